"""Deployments: a stable name bound to a version and a hardware SKU, with warm instances
(replicate-api.md §5.6). `services` writes them, `selectors` reads them for an account,
`instances` is what the workers report running, `scaling` the instances each queue wants."""
