"""Local Docker images built with no registry (`harness images build`); see harness/backends/docker/images/build.py."""

from harness.backends.docker.images.build import IMAGE_NAMES, BuildReport, StepResult, build_images, ensure_images, inputs_hash

__all__ = ["IMAGE_NAMES", "BuildReport", "StepResult", "build_images", "ensure_images", "inputs_hash"]
