"""AutoShrink (paper Algorithm 1): shrink a complete DAG cell one edge per step, best of K candidates by S."""
