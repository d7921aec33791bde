"""Trainings (replicate-api.md §3, cog.md §2.9): a version's cog.yaml `train:` entry point run
on the worker like a prediction, whose weights become a new version of a destination model.

A training is a `Prediction` row of kind `training`, so it goes through the prediction
machinery unchanged (queue of its hardware, claim, logs, cancel, liveness, billing per second,
spending limit, webhooks); `/v1/predictions` does not show it, `/v1/trainings` shows only
trainings. `services` creates them and makes the trained version, `selectors` reads them.
"""
