"""The public benchmarks (CDNOW, Auckland footfall): data loading and protocol runners."""
