//! Plots of a results directory.
