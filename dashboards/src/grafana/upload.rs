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

/// Why a Grafana request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// No answer: refused, timed out, TLS or DNS failure.
    Unreachable(String),
    /// An answer with an unexpected status (the message says what to do).
    Http(u16, String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(m) | ApiError::Http(_, m) => f.write_str(m),
        }
    }
}

/// The `POST /api/dashboards/db` body (overwrite, folder, `id` cleared) and the uid.
fn upload_body(dashboard: &Value, folder_uid: &str) -> (Value, String) {
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
    (body, uid)
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
        self.api(method, path, body)
            .await
            .map_err(|e| e.to_string())
    }

    /// One API request; a transport failure (refused, timeout, TLS) is
    /// [`ApiError::Unreachable`], any answer is returned with its status.
    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), ApiError> {
        let mut req = self
            .client
            .request(method, join(&self.url, path))
            .bearer_auth(&self.token)
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).map_err(|e| ApiError::Unreachable(e.to_string()))?);
        }
        let resp = req.send().await.map_err(|e| {
            ApiError::Unreachable(format!("Grafana at {}: {}", self.url, e.without_url()))
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| {
            ApiError::Unreachable(format!("Grafana at {}: {}", self.url, e.without_url()))
        })?;
        Ok((status, text))
    }

    /// The dashboards tagged `tag` in the folder `folder_uid`, as (uid, title), through
    /// `GET /api/search` (paged). Hits in another folder or without the tag are left
    /// out even if Grafana returns them.
    pub async fn search_tagged(
        &self,
        tag: &str,
        folder_uid: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        const LIMIT: usize = 5000;
        let mut out = Vec::new();
        for page in 1..=1000usize {
            let url = crate::client::url_with(
                "http://x",
                "api/search",
                &[
                    ("type", "dash-db"),
                    ("tag", tag),
                    ("folderUIDs", folder_uid),
                    ("limit", &LIMIT.to_string()),
                    ("page", &page.to_string()),
                ],
            )
            .map_err(ApiError::Unreachable)?;
            let path_q = format!("{}?{}", url.path(), url.query().unwrap_or(""));
            let (s, body) = self.api(reqwest::Method::GET, &path_q, None).await?;
            if s != 200 {
                return Err(ApiError::Http(s, explain(s, &body, "searching dashboards")));
            }
            let hits: Vec<Value> = serde_json::from_str(&body).map_err(|e| {
                ApiError::Http(s, format!("searching dashboards: not a JSON list: {e}"))
            })?;
            let n = hits.len();
            for h in hits {
                let uid = h.get("uid").and_then(Value::as_str).unwrap_or_default();
                let in_folder = h.get("folderUid").and_then(Value::as_str) == Some(folder_uid);
                let tagged = h
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)));
                if !uid.is_empty() && in_folder && tagged {
                    let title = h.get("title").and_then(Value::as_str).unwrap_or_default();
                    out.push((uid.to_string(), title.to_string()));
                }
            }
            if n < LIMIT {
                break;
            }
        }
        Ok(out)
    }

    /// A dashboard and the uid of its folder (`GET /api/dashboards/uid/<uid>`);
    /// `None` when there is none with that uid.
    pub async fn get_dashboard(&self, uid: &str) -> Result<Option<(Value, String)>, ApiError> {
        let (s, body) = self
            .api(
                reqwest::Method::GET,
                &format!("api/dashboards/uid/{uid}"),
                None,
            )
            .await?;
        match s {
            200 => {
                let mut v: Value = serde_json::from_str(&body).map_err(|e| {
                    ApiError::Http(s, format!("reading dashboard {uid}: not JSON: {e}"))
                })?;
                let folder = v["meta"]["folderUid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                Ok(Some((v["dashboard"].take(), folder)))
            }
            404 => Ok(None),
            _ => Err(ApiError::Http(
                s,
                explain(s, &body, &format!("reading dashboard {uid}")),
            )),
        }
    }

    /// Deletes a dashboard by uid; one that is already gone counts as deleted.
    pub async fn delete_dashboard(&self, uid: &str) -> Result<(), ApiError> {
        let (s, body) = self
            .api(
                reqwest::Method::DELETE,
                &format!("api/dashboards/uid/{uid}"),
                None,
            )
            .await?;
        match s {
            200 | 404 => Ok(()),
            _ => Err(ApiError::Http(
                s,
                explain(s, &body, &format!("deleting dashboard {uid}")),
            )),
        }
    }

    /// Like [`Grafana::upload`], telling an unreachable Grafana from a refusal; returns
    /// the version Grafana gave the dashboard.
    pub async fn upsert(&self, dashboard: &Value, folder_uid: &str) -> Result<i64, ApiError> {
        let (body, uid) = upload_body(dashboard, folder_uid);
        let mut last = ApiError::Http(412, String::new());
        for _attempt in 0..2 {
            let (s, text) = self
                .api(reqwest::Method::POST, "api/dashboards/db", Some(&body))
                .await?;
            match s {
                200 => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    return Ok(v.get("version").and_then(Value::as_i64).unwrap_or(0));
                }
                412 => {
                    last =
                        ApiError::Http(s, explain(s, &text, &format!("uploading dashboard {uid}")))
                }
                _ => {
                    return Err(ApiError::Http(
                        s,
                        explain(s, &text, &format!("uploading dashboard {uid}")),
                    ))
                }
            }
        }
        Err(last)
    }

    /// Ensures the folder exists; returns its uid.
    pub async fn ensure_folder(&self, title: &str) -> Result<String, String> {
        self.folder(title).await.map_err(|e| e.to_string())
    }

    /// [`Grafana::ensure_folder`] telling an unreachable Grafana from a refusal.
    pub async fn folder(&self, title: &str) -> Result<String, ApiError> {
        let uid = folder_uid(title);
        let (s, body) = self
            .api(reqwest::Method::GET, &format!("api/folders/{uid}"), None)
            .await?;
        match s {
            200 => Ok(uid),
            404 => {
                let (s, body) = self
                    .api(
                        reqwest::Method::POST,
                        "api/folders",
                        Some(&json!({"uid": uid, "title": title})),
                    )
                    .await?;
                match s {
                    200 | 201 => Ok(uid),
                    // Created concurrently, or exists under that title already.
                    409 | 412 => Ok(uid),
                    _ => Err(ApiError::Http(
                        s,
                        explain(s, &body, &format!("creating folder {title:?}")),
                    )),
                }
            }
            _ => Err(ApiError::Http(
                s,
                explain(s, &body, &format!("looking up folder {title:?}")),
            )),
        }
    }

    /// Uploads (creates or updates) one dashboard. A 412 (a concurrent change or a
    /// version mismatch) is retried once; a second 412 is an error with Grafana's reason.
    pub async fn upload(&self, dashboard: &Value, folder_uid: &str) -> Result<String, String> {
        let (body, uid) = upload_body(dashboard, folder_uid);
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
