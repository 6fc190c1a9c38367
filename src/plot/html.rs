//! The self-contained `index.html` of `agentsim report` (filled in below).
