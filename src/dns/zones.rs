//! Authoritative local zones (a school's printers and servers, forward and
//! reverse), answered with AA by a hickory-server `Catalog` of zone files.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::Message;
use hickory_proto::rr::{LowerName, Record};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::store::file::{FileConfig, FileZoneHandler};
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponse, ZoneType};

use crate::config::ZoneConfig;

/// Why a zone file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("zone {zone} from {file}: {message}")]
pub struct ZoneLoadError {
    pub zone: String,
    pub file: String,
    pub message: String,
}

/// The configured local zones.
pub struct LocalZones {
    catalog: Catalog,
    count: usize,
}

impl LocalZones {
    /// Loads every zone file; the first that fails stops the load.
    pub fn load(zones: &[ZoneConfig]) -> Result<LocalZones, ZoneLoadError> {
        let mut catalog = Catalog::new();
        for zone in zones {
            let handler = FileZoneHandler::try_from_config(
                zone.name.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                None,
                &FileConfig {
                    zone_path: zone.file.clone(),
                },
            )
            .map_err(|message| ZoneLoadError {
                zone: zone.name.to_string(),
                file: zone.file.display().to_string(),
                message,
            })?;
            catalog.upsert(LowerName::from(&zone.name), vec![Arc::new(handler)]);
        }
        Ok(LocalZones {
            catalog,
            count: zones.len(),
        })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `name` is inside one of the local zones.
    pub fn covers(&self, name: &LowerName) -> bool {
        self.count > 0 && self.catalog.find(name).is_some()
    }

    /// Answers a query inside a local zone. `raw` is the query as received.
    pub async fn answer(&self, raw: &[u8], src: SocketAddr) -> Option<Message> {
        let request = Request::from_bytes(raw.to_vec(), src, Protocol::Tcp).ok()?;
        let capture = Capture::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.catalog
            .lookup(&request, None, now, capture.clone())
            .await;
        let bytes = capture.0.lock().ok()?.take()?;
        Message::from_vec(&bytes).ok()
    }
}

/// A response handler that keeps the encoded response instead of sending it,
/// so the handler can size and truncate it like every other answer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::with_capacity(512);
        let info = {
            let mut encoder = BinEncoder::new(&mut bytes);
            response.destructive_emit(&mut encoder)?
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bytes);
        }
        Ok(info)
    }
}
