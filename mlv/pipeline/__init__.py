"""DVC pipelines (`dvc.yaml` stages, pinned by `dvc.lock`): what they declare and what they produced."""
