//! sandbox-service: run one systemd service in its own secure container.

pub mod cli;
pub mod clone;
pub mod config;
pub mod envfile;
pub mod interrupt;
pub mod label;
pub mod layout;
pub mod livestate;
pub mod logging;
pub mod manifest;
pub mod names;
pub mod payload;
pub mod plan;
pub mod progress;
pub mod rootpath;
pub mod runtime;
pub mod safefs;
pub mod sandbox;
pub mod secrets;
pub mod shim;
pub mod state;
pub mod systemd;
pub mod unitfile;
pub mod unithardening;
pub mod unitpath;
pub mod units;
