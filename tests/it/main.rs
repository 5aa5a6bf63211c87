//! Integration tests: the real `warden` binary, run in a temp directory with generated
//! TOML and small shell or Python programs, observed the way a user would (its HTTP
//! surface, its exit code, its log files, the processes it leaves or does not leave).

mod support;

mod alerts;
mod api;
mod cli;
mod client;
mod dashboard;
mod deploy_compose;
mod deploy_k8s;
mod health;
mod instances;
mod jobs;
mod logs;
mod notify;
mod openapi;
mod supervision;
mod tidy;
