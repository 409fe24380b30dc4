"""`python -m bench.run`'s own arguments: a CPU period the kernel would refuse is refused at
the command line, naming the flag, instead of a Pi step that says it could not limit the CPU."""

from __future__ import annotations

import pytest

from bench.run import main


@pytest.mark.parametrize("value", ["0", "4", "1001", "ten"])
def test_a_cpu_period_the_kernel_would_refuse_is_refused_by_name(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--cpu-period-ms", value, "--only", "pi"])

    assert exit_.value.code == 2
    assert "--cpu-period-ms" in capsys.readouterr().err
