//! [`Frame`]: one encoded Engine.IO text frame, the unit every layer that moves room events agrees
//! on. The gateway encodes frames and sends them; overload control keeps the ones a member is owed,
//! without looking inside; the bus carries them between instances. It lives on the ground floor so
//! that none of those layers imports another for it.

use axum::extract::ws::Utf8Bytes;

/// One encoded Engine.IO text frame. Cloning shares the bytes, so a broadcast encodes once and every
/// recipient's queue holds a reference-counted pointer.
pub type Frame = Utf8Bytes;
