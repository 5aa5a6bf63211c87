//! Health of programs, the host and dependencies: program probes (tcp, http, exec, MCP),
//! system checks (CPU, memory, disks) and dependency checks (Postgres, Redis).
//!
//! Layer 2: these run probes and checks and report outcomes; what an outcome *means*
//! (healthy or not, restart or not, ready or not) is decided elsewhere — the probe
//! thresholds and actions by the supervisor, readiness by `http`.

pub mod checks;
pub mod mcp;
pub mod probe;
pub mod system;
pub mod verdict;
