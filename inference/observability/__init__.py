"""Figures for operators (docs/metrics.md): counters and histograms that web and worker
processes on any machine add to in Redis (`counters`), the workers' resource reports (runner
memory, GPUs: `resources`, `gpus`), and the Prometheus collector that reads them all for
`/metrics` (`collector`)."""
