//! One HTTP connector for every AWS client of the process, its TLS set-up done once, on a
//! background thread at cold start, off the critical path.
//!
//! Why not the SDK's default: each service client gets an HTTP client of its own, and checks it
//! when the client is created by building a whole TLS connector (the root certificates parsed,
//! the crypto provider set up) only to throw it away; its first call then builds another. A
//! function with three clients (its service's, the ledger's, the topic's) paid six TLS set-ups
//! on the way to its first remediation, three of them in the init. Here the check is skipped,
//! every client shares one connector (one pool of connections too), and the connector for the
//! functions' own timeouts is built while the runtime fetches the first event.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, default_async_sleep};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The settings a connector is built for (the SDK's own cache key).
type Key = (Option<Duration>, Option<Duration>);

/// The process's one HTTP client: connectors by their settings, each built once.
#[derive(Debug, Clone, Default)]
pub struct OneHttpClient {
    connectors: Arc<RwLock<HashMap<Key, SharedHttpConnector>>>,
}

impl OneHttpClient {
    /// A client whose connector for `timeouts` is being built on a background thread now.
    /// Must be called within a Tokio runtime.
    pub fn warming(timeouts: &TimeoutConfig) -> Self {
        let client = Self::default();
        let settings = settings_for(timeouts);
        let warm = client.clone();
        // A blocking task: the TLS set-up is CPU work, and it must not hold up the runtime.
        tokio::task::spawn_blocking(move || warm.connector(&settings, default_async_sleep()));
        client
    }

    pub fn shared(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }

    /// How many connectors were built so far (one per distinct timeout settings).
    pub fn built(&self) -> usize {
        self.connectors.read().map_or(0, |c| c.len())
    }

    fn connector(
        &self,
        settings: &HttpConnectorSettings,
        sleep: Option<SharedAsyncSleep>,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        if let Some(built) = self
            .connectors
            .read()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return built;
        }
        // Held while building: a call that needs the connector the warm-up is building waits
        // for it rather than building a second one.
        let mut connectors = self
            .connectors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| {
                tracing::debug!(?key, "building the HTTP connector (TLS set-up)");
                SharedHttpConnector::new(build(settings, sleep))
            })
            .clone()
    }
}

/// The connector settings the SDK derives from `timeouts` for each call.
fn settings_for(timeouts: &TimeoutConfig) -> HttpConnectorSettings {
    let mut builder = HttpConnectorSettings::builder();
    builder.set_connect_timeout(timeouts.connect_timeout());
    builder.set_read_timeout(timeouts.read_timeout());
    builder.build()
}

/// What the SDK's default HTTPS client builds: rustls with aws-lc, the proxy from the
/// environment (`HTTPS_PROXY`, `NO_PROXY`), the connect timeout driven by `sleep`.
fn build(settings: &HttpConnectorSettings, sleep: Option<SharedAsyncSleep>) -> Connector {
    let mut builder = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    builder.set_connector_settings(Some(settings.clone()));
    builder.set_sleep_impl(sleep);
    builder.set_proxy_config(Some(ProxyConfig::from_env()));
    builder.build()
}

impl HttpClient for OneHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(settings, components.sleep_impl())
    }

    // `validate_base_client_config` keeps its default (nothing to check): the SDK's default
    // client builds a throwaway TLS connector there, once per service client.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_warm_up_builds_the_one_connector_the_calls_then_share() {
        let timeouts = crate::aws::timeouts();
        let client = OneHttpClient::warming(&timeouts);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while client.built() == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            client.built(),
            1,
            "the warm-up built the connector by itself"
        );
        let settings = settings_for(&timeouts);
        for _ in 0..3 {
            client.connector(&settings, default_async_sleep());
        }
        assert_eq!(
            client.built(),
            1,
            "calls with the functions' timeouts reuse it"
        );
        let other = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(7))
            .build();
        client.connector(&other, default_async_sleep());
        assert_eq!(
            client.built(),
            2,
            "other settings get a connector of their own"
        );
    }
}
