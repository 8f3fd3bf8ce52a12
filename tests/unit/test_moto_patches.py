"""Fails loudly when the pinned moto changes under the local cloud's patches."""

from __future__ import annotations

import subprocess
import sys

from tradai_sim.cloud.moto_patches import PATCHES, PINNED_MOTO, check_patches


def test_installed_moto_is_the_pinned_one_and_every_patched_target_matches() -> None:
    assert check_patches() == [], f"moto internals changed (patches written for {PINNED_MOTO})"


def test_every_patch_says_why() -> None:
    for patch in PATCHES:
        assert len(patch.why) > 20, patch.target


def test_patches_of_one_attribute_stack_and_apply_once_per_process() -> None:
    """Four parts wrap moto's ``Queue.add_message`` (sqs_index, sqs_fifo, alarms, sqs_redrive): all
    apply, in the order listed, and applying again wraps nothing twice. In a subprocess:
    applying patches here would change moto for every other unit test."""
    _in_a_fresh_process(
        "from tradai_sim.cloud.moto_patches import PATCHES, apply_patches, unpatched\n"
        "from moto.sqs.models import Queue\n"
        "apply_patches(); first = Queue.add_message; apply_patches()\n"
        "assert Queue.add_message is first\n"
        "keys = {p.key for p in PATCHES if p.target == 'moto.sqs.models:Queue.add_message'}\n"
        "assert len(keys) == 4 and first.__tradai_patches__ == keys, keys\n"
        "assert unpatched(first).__module__ == 'moto.sqs.models'\n")


def test_the_server_finds_backends_without_listing_moto_per_request() -> None:
    """A request's backend lookup no longer lists moto's package directory; it answers what
    the listing answers. In a subprocess, as above."""
    _in_a_fresh_process(
        "import os\n"
        "from moto import backends\n"
        "from tradai_sim.cloud.moto_patches import apply_patches, unpatched\n"
        "apply_patches()\n"
        "listed = set(unpatched(backends.list_of_moto_modules)())\n"
        "calls = []; real = os.listdir\n"
        "os.listdir = lambda *a: calls.append(a) or real(*a)\n"
        "assert set(backends.list_of_moto_modules()) == listed and 'sqs' in listed\n"
        "assert calls == [], calls\n")


def _in_a_fresh_process(code: str) -> None:
    """Runs ``code`` in a new interpreter: applying patches here would change moto for every
    other unit test of this process."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
