//! `upload`: puts dashboards into Grafana through its HTTP API with a service-account
//! token: the folder is created if missing, `POST /api/dashboards/db` with
//! `overwrite: true` and `folderUid`, so re-running updates and never duplicates (the
//! dashboard uid is derived from the flow id). The token is never printed.

use serde_json::{json, Value};

use crate::client::join;

/// What went wrong, in words an operator can act on.
pub fn explain(status: u16, body: &str, what: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().chars().take(200).collect());
    match status {
        401 => format!("{what}: Grafana rejected the token (401 Unauthorized): check the service-account token ({msg})"),
        403 => format!("{what}: the token lacks permission (403 Forbidden): the service account needs the Editor role or dashboards:write + folders:create ({msg})"),
        412 => format!("{what}: precondition failed (412): {msg}"),
        404 => format!("{what}: not found (404): is the Grafana URL right? ({msg})"),
        s => format!("{what}: HTTP {s}: {msg}"),
    }
}

/// A Grafana folder uid from its title.
pub fn folder_uid(title: &str) -> String {
    let mut u: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    u.truncate(40);
    if u.is_empty() {
        "rtmon".into()
    } else {
        u
    }
}

/// A Grafana API session.
pub struct Grafana {
    /// Base URL.
    pub url: String,
    token: String,
    client: reqwest::Client,
}

impl Grafana {
    /// A session with a bearer token.
    pub fn new(url: &str, token: String, client: reqwest::Client) -> Grafana {
        Grafana {
            url: url.to_string(),
            token,
            client,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), String> {
        let mut req = self
            .client
            .request(method, join(&self.url, path))
            .bearer_auth(&self.token)
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).map_err(|e| e.to_string())?);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("Grafana at {}: {}", self.url, e.without_url()))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("Grafana at {}: {e}", self.url))?;
        Ok((status, text))
    }

    /// Ensures the folder exists; returns its uid.
    pub async fn ensure_folder(&self, title: &str) -> Result<String, String> {
        let uid = folder_uid(title);
        let (s, body) = self
            .call(reqwest::Method::GET, &format!("api/folders/{uid}"), None)
            .await?;
        match s {
            200 => Ok(uid),
            404 => {
                let (s, body) = self
                    .call(
                        reqwest::Method::POST,
                        "api/folders",
                        Some(&json!({"uid": uid, "title": title})),
                    )
                    .await?;
                match s {
                    200 | 201 => Ok(uid),
                    // Created concurrently, or exists under that title already.
                    409 | 412 => Ok(uid),
                    _ => Err(explain(s, &body, &format!("creating folder {title:?}"))),
                }
            }
            _ => Err(explain(s, &body, &format!("looking up folder {title:?}"))),
        }
    }

    /// Uploads (creates or updates) one dashboard. A 412 (a concurrent change or a
    /// version mismatch) is retried once; a second 412 is an error with Grafana's reason.
    pub async fn upload(&self, dashboard: &Value, folder_uid: &str) -> Result<String, String> {
        let mut d = dashboard.clone();
        if let Some(o) = d.as_object_mut() {
            o.insert("id".into(), Value::Null);
        }
        let uid = d
            .get("uid")
            .and_then(|u| u.as_str())
            .unwrap_or("")
            .to_string();
        let body = json!({
            "dashboard": d,
            "folderUid": folder_uid,
            "message": concat!("rtmon-dashboards ", env!("CARGO_PKG_VERSION")),
            "overwrite": true,
        });
        let mut last = String::new();
        for _attempt in 0..2 {
            let (s, text) = self
                .call(reqwest::Method::POST, "api/dashboards/db", Some(&body))
                .await?;
            match s {
                200 => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let url = v.get("url").and_then(|u| u.as_str()).unwrap_or("");
                    let version = v.get("version").and_then(|u| u.as_i64()).unwrap_or(0);
                    return Ok(format!("{uid}: version {version} {}", join(&self.url, url)));
                }
                412 => {
                    last = explain(s, &text, &format!("uploading dashboard {uid}"));
                    continue;
                }
                _ => return Err(explain(s, &text, &format!("uploading dashboard {uid}"))),
            }
        }
        Err(format!("{last} (after one retry)"))
    }
}

/// Reads the token from a file (trailing newline trimmed) or an environment variable.
pub fn read_token(file: Option<&std::path::Path>, env_var: &str) -> Result<String, String> {
    let t = match file {
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| format!("--token-file {}: {e}", f.display()))?
        }
        None => std::env::var(env_var).map_err(|_| {
            format!(
                "no Grafana token: set {env_var} or pass --token-file (a service-account token)"
            )
        })?,
    };
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err("the Grafana token is empty".into());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_name_the_fix_and_not_the_token() {
        let e = explain(401, r#"{"message":"invalid API key"}"#, "uploading");
        assert!(e.contains("401") && e.contains("token") && e.contains("invalid API key"));
        assert!(explain(403, "{}", "x").contains("permission"));
        assert!(explain(412, r#"{"message":"version-mismatch"}"#, "x").contains("version-mismatch"));
    }

    #[test]
    fn folder_uids_are_safe() {
        assert_eq!(folder_uid("RTMon Flows"), "rtmon-flows");
        assert_eq!(folder_uid(""), "rtmon");
    }
}
