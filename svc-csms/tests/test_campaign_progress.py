"""A station's campaign progress from what it reports: statuses move it, the boot with the
target version verifies it, final states stay final, 1.6 notices belong by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattlane.contracts.firmware_campaign import FailureType, StationState
from wattlane.csms.campaigns.progress import Progress, belongs, on_boot, on_status

SENT = Progress(StationState.SENT)
STATUSES = [
    "Downloading",
    "Downloaded",
    "DownloadFailed",
    "DownloadScheduled",
    "DownloadPaused",
    "Idle",
    "SignatureVerified",
    "InvalidSignature",
    "InstallScheduled",
    "Installing",
    "InstallRebooting",
    "Installed",
    "InstallationFailed",
    "InstallVerificationFailed",
]


def replay(statuses: list[str], start: Progress = SENT) -> Progress:
    progress = start
    for status in statuses:
        progress = on_status(progress, status)
    return progress


def test_a_16_update_then_the_boot_with_the_target_version() -> None:
    progress = replay(["Downloading", "Downloaded", "Installing", "Installed"])
    assert progress.state is StationState.INSTALLED
    assert on_boot(progress, "2.1.0", "2.1.0") == Progress(StationState.VERIFIED, None, "Installed")


def test_a_201_update_boots_before_it_says_installed() -> None:
    progress = replay(["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"])
    progress = on_boot(progress, "2.1.0", "2.1.0")
    assert progress.state is StationState.VERIFIED
    assert on_status(progress, "Installed").state is StationState.VERIFIED


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        ("DownloadFailed", FailureType.DOWNLOAD_FAILED),
        ("InvalidSignature", FailureType.INVALID_SIGNATURE),
        ("InstallationFailed", FailureType.INSTALLATION_FAILED),
        ("InstallVerificationFailed", FailureType.INSTALL_VERIFICATION_FAILED),
    ],
)
def test_failures_name_the_status_that_failed_them(status: str, failure: FailureType) -> None:
    assert replay(["Downloading", status]) == Progress(StationState.FAILED, failure, status)


def test_installed_then_booting_another_version_fails() -> None:
    progress = on_boot(replay(["Downloading", "Installed"]), "1.0.0", "2.1.0")
    assert (progress.state, progress.failure) == (StationState.FAILED, FailureType.WRONG_VERSION)


def test_a_reboot_mid_install_on_the_old_version_is_not_yet_a_verdict() -> None:
    progress = replay(["Downloading", "Installing"])
    assert on_boot(progress, "1.0.0", "2.1.0") == progress


def test_a_queued_station_is_not_verified_by_a_boot() -> None:
    assert on_boot(Progress(StationState.QUEUED), "2.1.0", "2.1.0").state is StationState.QUEUED


@given(st.lists(st.sampled_from(STATUSES), max_size=12), st.lists(st.sampled_from(STATUSES), max_size=12))
def test_final_states_never_move(before: list[str], after: list[str]) -> None:
    progress = replay(before)
    if progress.state.finished:
        assert replay(after, progress) == progress
        assert on_boot(progress, "2.1.0", "2.1.0") == progress
        assert on_boot(progress, "1.0.0", "2.1.0") == progress


@given(st.lists(st.sampled_from(STATUSES), max_size=12))
def test_only_a_failure_status_fails_and_only_a_boot_verifies(statuses: list[str]) -> None:
    progress = replay(statuses)
    failures = {"DownloadFailed", "InvalidSignature", "InstallationFailed", "InstallVerificationFailed"}
    assert (progress.state is StationState.FAILED) == any(s in failures for s in statuses)
    assert progress.state is not StationState.VERIFIED


NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def test_request_ids_decide_where_both_have_one() -> None:
    assert belongs(NOW, 7, NOW, 7, timedelta(0))
    assert not belongs(NOW, 8, NOW, 7, timedelta(hours=1))


def test_16_notices_belong_by_time_window() -> None:
    window = timedelta(minutes=30)
    assert belongs(NOW + timedelta(minutes=5), None, NOW, None, window)
    assert belongs(NOW - timedelta(seconds=10), None, NOW, None, window)  # a station clock behind
    assert not belongs(NOW - timedelta(hours=1), None, NOW, None, window)
    assert not belongs(NOW + timedelta(hours=1), None, NOW, None, window)
    assert not belongs(NOW, None, None, None, window)
