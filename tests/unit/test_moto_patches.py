"""Fails loudly when the pinned moto changes under the local cloud's patches."""

from __future__ import annotations

from tradai_sim.cloud.moto_patches import PATCHES, PINNED_MOTO, check_patches


def test_installed_moto_is_the_pinned_one_and_every_patched_target_matches() -> None:
    assert check_patches() == [], f"moto internals changed (patches written for {PINNED_MOTO})"


def test_every_patch_says_why() -> None:
    for patch in PATCHES:
        assert len(patch.why) > 20, patch.target
