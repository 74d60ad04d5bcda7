"""`harness images build [--force] [--only base|harness|wiremock]`: the local images for `--images local` and CI."""

from __future__ import annotations

import argparse

from harness.backends.docker.images.build import IMAGE_NAMES, build_images


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("images", help="local Docker images (no registry needed)")
    sub = p.add_subparsers(dest="images_command", metavar="ACTION")
    sub.required = True
    b = sub.add_parser(
        "build",
        help="build or reuse gonka-harness/debian:bookworm, gonka-harness/harness:<hash>, gonka-harness/wiremock:<hash>",
    )
    b.add_argument("--force", action="store_true", help="rebuild even when an image for the same inputs exists")
    b.add_argument("--only", choices=IMAGE_NAMES, help="build just this image (and what it needs)")
    b.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    report = build_images(only=args.only, force=args.force)
    for s in report.steps:
        print(f"{s.name:9s} {s.action:7s} {s.duration_s:7.1f}s  {s.ref}")
    print(f"total {report.duration_s:.1f}s (inputs hash {report.tag})")
    return 0
