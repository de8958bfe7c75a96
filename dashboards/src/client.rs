//! A small HTTP client (reqwest, rustls with the ring provider) for Prometheus,
//! Grafana and the SNMP exporter.

use std::time::Duration;

/// Builds a client with a timeout. System trust roots; rustls with ring.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // Installing twice is harmless (the second call returns Err, which we ignore).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("rtmon-dashboards/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

/// Joins a base URL and a path with exactly one slash.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Builds a URL with query parameters (properly encoded).
pub fn url_with(base: &str, path: &str, params: &[(&str, &str)]) -> Result<reqwest::Url, String> {
    let u = join(base, path);
    reqwest::Url::parse_with_params(&u, params).map_err(|e| format!("bad URL {u:?}: {e}"))
}

/// Runs an instant query against Prometheus' HTTP API and returns the result vector
/// as (labels, value) pairs. A scalar result is returned as one unlabelled sample.
pub async fn prom_query(
    c: &reqwest::Client,
    prometheus: &str,
    expr: &str,
) -> Result<Vec<(serde_json::Map<String, serde_json::Value>, f64)>, String> {
    prom_query_at(c, prometheus, expr, None).await
}

/// [`prom_query`] evaluated at `time` (Prometheus' `time` parameter: unix seconds or
/// RFC 3339; `None`: now).
pub async fn prom_query_at(
    c: &reqwest::Client,
    prometheus: &str,
    expr: &str,
    time: Option<&str>,
) -> Result<Vec<(serde_json::Map<String, serde_json::Value>, f64)>, String> {
    let mut params = vec![("query", expr)];
    if let Some(t) = time {
        params.push(("time", t));
    }
    let url = url_with(prometheus, "api/v1/query", &params)?;
    let resp = c
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Prometheus at {prometheus}: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("Prometheus at {prometheus}: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
        format!("Prometheus at {prometheus} answered HTTP {status} with non-JSON: {e}")
    })?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        let err = v
            .get("error")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown error");
        return Err(format!("query failed (HTTP {status}): {err}"));
    }
    let data = &v["data"];
    let mut out = Vec::new();
    match data.get("resultType").and_then(|t| t.as_str()) {
        Some("vector") => {
            for r in data["result"].as_array().into_iter().flatten() {
                let labels = r["metric"].as_object().cloned().unwrap_or_default();
                let val = r["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                out.push((labels, val));
            }
        }
        Some("scalar") => {
            let val = data["result"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(f64::NAN);
            out.push((Default::default(), val));
        }
        other => return Err(format!("unexpected result type {other:?}")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_joined_and_encoded() {
        assert_eq!(
            join("http://p:9090/", "/api/v1/query"),
            "http://p:9090/api/v1/query"
        );
        let u = url_with(
            "http://p:9090",
            "api/v1/query",
            &[("query", "up{job=\"a b\"}")],
        )
        .expect("url");
        assert_eq!(
            u.as_str(),
            "http://p:9090/api/v1/query?query=up%7Bjob%3D%22a+b%22%7D"
        );
    }
}
