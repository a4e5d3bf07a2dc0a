"""How fast this machine runs Python: the figure to scale the other benchmarks by.

    .venv/bin/python -m bench.pyspeed [--steps 500000]

The broadcaster's per-listener and per-frame costs are interpreter work. Run this on the
machine the benchmarks ran on and on the target (a Raspberry Pi, say): the ratio of the two
CPU times is the factor to multiply the other CPU figures by. The workload is the classic
n-body simulation of the outer planets (floating point, attribute-free list code, like the
framing and wake-up paths it stands for); it prints the CPU seconds per million steps.
"""

from __future__ import annotations

import argparse
import math
import platform
import time

PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24

Body = tuple[list[float], list[float], float]  # position, velocity, mass

# Sun, Jupiter, Saturn, Uranus, Neptune: positions (AU), velocities (AU/day), masses
PLANETS = (
    ((4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01),
     (1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05),
     9.54791938424326609e-04),
    ((8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01),
     (-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05),
     2.85885980666130812e-04),
    ((1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01),
     (2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05),
     4.36624404335156298e-05),
    ((1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01),
     (2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05),
     5.15138902046611451e-05),
)


def system() -> list[Body]:
    """The five bodies, with the sun moving so that total momentum is zero."""
    bodies: list[Body] = [([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], SOLAR_MASS)]
    for position, velocity, mass in PLANETS:
        bodies.append((list(position), [v * DAYS_PER_YEAR for v in velocity],
                       mass * SOLAR_MASS))
    sun_velocity = bodies[0][1]
    for _, velocity, mass in bodies[1:]:
        for axis in range(3):
            sun_velocity[axis] -= velocity[axis] * mass / SOLAR_MASS
    return bodies


def advance(bodies: list[Body], steps: int, dt: float = 0.01) -> None:
    """Move the system on by `steps` time steps."""
    pairs = [(bodies[i], bodies[j]) for i in range(len(bodies))
             for j in range(i + 1, len(bodies))]
    for _ in range(steps):
        for (p1, v1, m1), (p2, v2, m2) in pairs:
            dx, dy, dz = p1[0] - p2[0], p1[1] - p2[1], p1[2] - p2[2]
            mag = dt * (dx * dx + dy * dy + dz * dz) ** -1.5
            f1, f2 = m1 * mag, m2 * mag
            v1[0] -= dx * f2
            v1[1] -= dy * f2
            v1[2] -= dz * f2
            v2[0] += dx * f1
            v2[1] += dy * f1
            v2[2] += dz * f1
        for position, velocity, _ in bodies:
            position[0] += dt * velocity[0]
            position[1] += dt * velocity[1]
            position[2] += dt * velocity[2]


def energy(bodies: list[Body]) -> float:
    """Total energy: conserved, so it checks the simulation ran right."""
    total = 0.0
    for i, (p1, v1, m1) in enumerate(bodies):
        total += m1 * (v1[0] ** 2 + v1[1] ** 2 + v1[2] ** 2) / 2
        for p2, _, m2 in bodies[i + 1:]:
            total -= m1 * m2 / math.dist(p1, p2)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500_000)
    args = parser.parse_args()
    bodies = system()
    before = energy(bodies)
    started = time.process_time()
    advance(bodies, args.steps)
    cpu_s = time.process_time() - started
    drift = abs(energy(bodies) - before) / abs(before)
    if drift > 1e-3:
        raise SystemExit(f"the simulation went wrong (energy drifted by {drift:.2%})")
    print(f"{platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()}: {cpu_s * 1e6 / args.steps:.2f} CPU s per million steps "
          f"({args.steps} steps in {cpu_s:.2f} s)")


if __name__ == "__main__":
    main()
