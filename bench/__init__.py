"""Benchmarks (issue 8): Billable's hot paths as ratios to the fastest thing the same machine can
do with the same data. `make bench SCALE=small|firm|xl` runs `python -m bench --scale S`."""
