"""What a soak run does: its size, its faults and its budget of time."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SHIFT_SIM_MINUTES = 20.0      # the shift change the issue asks for: everyone in within 20 minutes


@dataclass
class SoakSettings:
    workers: int = 3000
    lanes: int = 8
    kills: int = 20                       # SIGKILLs of the gateway (and of the local broker)
    minutes: float = 5.0                  # real minutes the 20 simulated minutes are compressed into
    seed: int = 20261128
    out_share: float = 0.15               # workers who also go out again within the window
    phones: int = 6                       # workers who clock in with a phone (the phone lane)
    clock_jump: str = "+2h"               # what the gateway's wall clock jumps by (libfaketime)
    faults: tuple[str, ...] = ("platform_down", "platform_errors", "dropped_answers", "unplug_reader",
                               "wg_socket", "disk_full", "clock_jump")
    compare_mosquitto: bool = True
    drain_timeout_s: float = 240.0        # how long the end waits for the backlog to reach 0
    faults_first: tuple[str, ...] = ()    # fault kinds scheduled before the others
    setup_timeout_s: float = 180.0        # privileges and users on the devices before the shift
    workdir: Path | None = None           # default: a fresh temp dir (kept when keep=True)
    keep: bool = False
    verbose: bool = False
    progress: bool = True                 # one line per phase on stderr
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from sitegate.errors import UsageError

        if self.workers < 10:
            raise UsageError(f"--workers must be at least 10, got {self.workers}")
        if not 1 <= self.lanes <= 8:
            raise UsageError(f"--lanes must be 1-8, got {self.lanes}")
        if self.kills < 0:
            raise UsageError(f"--kills must be >= 0, got {self.kills}")
        if not self.minutes > 0:
            raise UsageError(f"--minutes must be > 0, got {self.minutes}")
        if not 0.0 <= self.out_share <= 1.0:
            raise UsageError(f"out share must be between 0 and 1, got {self.out_share}")

    @property
    def shift_s(self) -> float:
        """Real seconds of the shift change."""
        return self.minutes * 60.0

    @property
    def compression(self) -> float:
        """Simulated seconds per real second."""
        return SHIFT_SIM_MINUTES * 60.0 / self.shift_s

    @classmethod
    def quick(cls, **overrides) -> "SoakSettings":
        """The short run of the CI smoke test: every fault once, a few kills."""
        base = dict(workers=300, lanes=6, kills=5, minutes=1.1, phones=2, drain_timeout_s=150.0,
                    faults_first=("dropped_answers",))
        base.update(overrides)
        return cls(**base)
