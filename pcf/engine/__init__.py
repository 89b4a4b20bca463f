"""The Brightway engine: project set-up, the model's foreground, solving, many demands at once, supplier inputs."""

from .solve import Engine

__all__ = ["Engine"]
