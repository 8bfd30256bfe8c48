//! Comparing two results directories, and checking expectations.
