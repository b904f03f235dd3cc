//! `hedge devices list`: each device the server has seen by MAC address,
//! with its current and last addresses, DHCP and configured names, group,
//! and when it was first and last seen.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use super::output::{Listing, OutputFlags, print_listing};
use super::running_server::RunningServer;
use crate::admin::AdminRequest;
use crate::service::devices::Device;
use crate::service::time::{format_local, format_rfc3339};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Devices seen, most recently seen first.
    List {
        #[command(flatten)]
        output: OutputFlags,
    },
}

pub fn run(command: DevicesCommand, config: &Path) -> Result<()> {
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    match command {
        DevicesCommand::List { output } => {
            let devices: Vec<Device> = server.call(AdminRequest::DeviceList)?;
            print_listing(devices.iter().map(DeviceRow::of), output)?;
            Ok(())
        }
    }
}

/// A device as `hedge devices list` prints it (JSON adds `first` and
/// `last` as times to the stored fields).
#[derive(Serialize)]
struct DeviceRow<'a> {
    #[serde(flatten)]
    device: &'a Device,
    first: String,
    last: String,
}

impl DeviceRow<'_> {
    fn of(device: &Device) -> DeviceRow<'_> {
        DeviceRow {
            device,
            first: format_rfc3339(device.first_ms),
            last: format_rfc3339(device.last_ms),
        }
    }
}

fn text<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl Listing for DeviceRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "MAC",
        "NAME",
        "ADDRESS",
        "LAST ADDRESS",
        "DHCP NAME",
        "GROUP",
        "FIRST SEEN",
        "LAST SEEN",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "mac",
        "address",
        "last_address",
        "dhcp_name",
        "configured_name",
        "group",
        "first_seen",
        "last_seen",
    ];
    const EMPTY: &'static str = "no devices seen by MAC address";

    fn table_cells(&self) -> Vec<String> {
        let device = self.device;
        vec![
            device.mac.to_string(),
            device.name().unwrap_or_default().to_string(),
            device.address.to_string(),
            text(&device.last_address),
            text(&device.dhcp_name),
            device.group.clone(),
            format_local(device.first_ms),
            format_local(device.last_ms),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let device = self.device;
        vec![
            device.mac.to_string(),
            device.address.to_string(),
            text(&device.last_address),
            text(&device.dhcp_name),
            text(&device.configured_name),
            device.group.clone(),
            self.first.clone(),
            self.last.clone(),
        ]
    }
}
