//! Protocol clients a VU drives: REST over a shared reqwest client and Socket.IO v4 over
//! tokio-tungstenite.
