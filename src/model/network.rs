//! Links shared by concurrent transfers (max-min fair sharing).
