"""Proof for tablehub's claims: benchmarks (`python -m bench.run`) and a fault suite
(`python -m bench.chaos`).

Every process the harness starts runs on this machine, talks only to 127.0.0.1, and is
stopped by its PID in a `finally`; every loop is bounded in count and in time.

- `procs`     child processes, CPU pinning and limits, /proc readings, the hub under test
- `loadgen`   the open-loop load generator (its own process, one event loop)
- `floor`     the minimal pipeline the hub is compared with (same libraries)
- `fakecloud` a loopback stand-in for the chain's cloud that acknowledges what it stores
- `stats`     percentiles and per-phase summaries
- `run`       the benchmark orchestrator; writes docs/benchmarks.md and docs/bench/*.png
- `report`    the markdown and the plot
- `chaos`     faults under steady load; `checker` compares what was acknowledged with what
              the store, the kitchen screens and MQTT hold; writes docs/reliability.md
"""
