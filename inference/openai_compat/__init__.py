"""OpenAI-compatible endpoints under /openai/v1: chat completions, completions, embeddings and the
model list, for application code that speaks the OpenAI API (the `openai` clients unmodified).

Each call is an ordinary prediction of a Hearth model, made through the same code as
POST /v1/predictions (`inference.api.predictions.create_prediction`): the same API tokens,
tenant rules, spending limits, rate limits, billing, history and dashboard. A model takes part
when its owner declares it (`Model.openai_api`: chat or embeddings); `model` in a request names
it as `owner/name`, `owner/name:version` or `deployments/owner/name`.
"""
