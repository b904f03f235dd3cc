//! Any line as an admin-socket request: decoded or refused, never a panic;
//! whatever decodes encodes again.
#![no_main]

use hedge::admin::AdminRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<AdminRequest>(data) {
        serde_json::to_vec(&request).expect("a decoded request encodes");
    }
});
