// TEMPORARY STUB (replaced by the real sink)
use super::outbox::Outbox;
use std::path::PathBuf;
pub struct MqttSettings { pub url: String, pub client_id: String, pub username: Option<String>, pub password: Option<String>, pub keep_alive_s: u64, pub ca_file: Option<PathBuf>, pub status_topic: String }
impl MqttSettings { pub fn parse_url(url: &str) -> Result<(String, u16, bool), String> { Ok((url.into(), 1883, false)) } }
pub struct MqttSink { _o: Outbox }
impl MqttSink {
    pub fn spawn(_s: MqttSettings, o: Outbox) -> MqttSink { MqttSink { _o: o } }
    pub async fn flush(&self, _t: std::time::Duration) -> usize { 0 }
    pub async fn shutdown(self) {}
}
