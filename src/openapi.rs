//! The OpenAPI 3 document of the HTTP surface, served at `/api/v1/openapi.json`.
//!
//! The document is written by hand in `openapi.json` (next to this file) and embedded
//! as is. The tests below keep it from drifting: its operations must be exactly
//! [`crate::http::ROUTES`], every `$ref` must resolve, and each schema must describe
//! what serde really writes for the matching [`crate::api`] type — the same property
//! names, every field required, `null` allowed exactly where the field is an `Option`
//! — checked by serializing sample values and walking them through the schemas.

/// The OpenAPI 3.1 document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use serde_json::{json, Value};

    use super::DOCUMENT;
    use crate::api::*;

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("src/openapi.json is valid JSON")
    }

    /// Every (METHOD, path, operation) of the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (key, op) in item.as_object().expect("path item") {
                if METHODS.contains(&key.as_str()) {
                    ops.push((key.to_uppercase(), path.clone(), op.clone()));
                }
            }
        }
        ops
    }

    /// Follows a local `$ref` (`#/components/...`).
    fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
        while let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {target}"));
            schema = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("$ref {target} does not resolve"));
        }
        schema
    }

    #[test]
    fn the_document_is_openapi_3_with_bearer_auth_and_a_relative_server() {
        let doc = doc();
        let version = doc["openapi"].as_str().expect("an `openapi` version string");
        assert!(version.starts_with("3."), "not OpenAPI 3: {version}");
        assert_eq!(
            doc["info"]["version"],
            env!("CARGO_PKG_VERSION"),
            "info.version is the crate's"
        );
        assert!(doc["info"]["title"].is_string());
        assert_eq!(doc["servers"], json!([{"url": "/"}]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["type"], "http",
            "securityScheme `bearer` is http bearer"
        );
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(doc["security"], json!([{"bearer": []}]), "tokens by default");
        let ids: Vec<_> = operations(&doc)
            .iter()
            .map(|(m, p, op)| {
                op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{m} {p} has no operationId"))
                    .to_string()
            })
            .collect();
        let unique: BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "operationIds are unique: {ids:?}");
    }

    #[test]
    fn its_operations_are_exactly_the_routes_warden_serves() {
        let documented: BTreeSet<(String, String)> = operations(&doc()).into_iter().map(|(m, p, _)| (m, p)).collect();
        let served: BTreeSet<(String, String)> = crate::http::ROUTES
            .iter()
            .map(|(m, p)| (m.to_uppercase(), p.to_string()))
            .collect();
        let missing: Vec<_> = served.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&served).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "src/openapi.json and http::ROUTES differ\n  served but not documented: {missing:?}\n  documented but not served: {extra:?}"
        );
    }

    #[test]
    fn every_ref_resolves_and_every_component_is_used() {
        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = doc();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in &all {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
            assert!(doc.pointer(pointer).is_some(), "$ref {r} does not resolve");
        }
        for kind in ["schemas", "responses"] {
            for name in doc["components"][kind].as_object().unwrap().keys() {
                let r = format!("#/components/{kind}/{name}");
                assert!(all.contains(&r), "{r} is never used");
            }
        }
    }

    #[test]
    fn every_operation_documents_the_errors_it_can_produce() {
        let doc = doc();
        for (method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            let has = |code: &str| responses.contains_key(code);
            let what = format!("{method} {path}");
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{what}: no success answer"
            );
            // Every operation can be made to need a token (probes: left out of
            // `[server] public`), except the document itself.
            // The dashboard's script and style are public files, like the document.
            if !matches!(
                path.as_str(),
                "/api/v1/openapi.json" | "/dashboard/app.js" | "/dashboard/app.css"
            ) {
                assert!(has("401"), "{what}: no 401");
            }
            // The probes answer from memory and skip the request timeout.
            assert_eq!(has("408"), !crate::http::is_probe(&path), "{what}: 408 iff not a probe");
            assert_eq!(
                has("429"),
                !crate::http::is_probe(&path),
                "{what}: 429 iff rate limited"
            );
            assert_eq!(has("403"), method == "POST", "{what}: 403 iff a control endpoint");
            if path.contains("{name}") {
                assert!(has("404"), "{what}: an unknown program is 404");
            }
            if op.get("parameters").is_some() || path == "/api/v1/events" {
                assert!(has("400"), "{what}: takes input but has no 400");
            }
            if op.get("requestBody").is_some() {
                assert!(has("413") && has("415"), "{what}: a body can be too large or not JSON");
            }
            for (code, response) in responses {
                let response = resolve(&doc, response);
                assert!(response["description"].is_string(), "{what} {code}: no description");
                if code == "401" {
                    assert!(
                        response["headers"].get("WWW-Authenticate").is_some(),
                        "{what}: 401 without WWW-Authenticate"
                    );
                }
                if code == "429" {
                    assert!(
                        response["headers"].get("Retry-After").is_some(),
                        "{what}: 429 without Retry-After"
                    );
                }
            }
            if method == "GET" && crate::http::is_probe(&path) {
                assert_eq!(op["security"], json!([{}, {"bearer": []}]), "{what}: public by default");
            }
        }
    }

    // ---- schemas against the serde types -------------------------------------------

    /// Whether `schema` accepts `null`.
    fn allows_null(doc: &Value, schema: &Value) -> bool {
        let schema = resolve(doc, schema);
        let Some(map) = schema.as_object() else {
            return schema == &Value::Bool(true);
        };
        if map.is_empty() {
            return true; // `{}`: anything
        }
        match &map.get("type") {
            Some(Value::String(t)) => return t == "null",
            Some(Value::Array(ts)) => return ts.iter().any(|t| t == "null"),
            _ => {}
        }
        ["oneOf", "anyOf"].iter().any(|k| {
            map.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|branches| branches.iter().any(|b| allows_null(doc, b)))
        })
    }

    fn type_matches(t: &str, value: &Value) -> bool {
        match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown JSON Schema type {other}"),
        }
    }

    /// Walks `value` (a serialized sample) through `schema`, checking types, enums,
    /// bounds, and that each object has exactly the schema's properties, all required.
    /// At each property, `null_ok(pointer)` says whether the Rust type accepts `null`
    /// there; the schema must allow `null` exactly then (not checked without a type).
    /// Names the component schemas it passes through in `seen`.
    struct Walk<'a> {
        doc: &'a Value,
        null_ok: Option<&'a dyn Fn(&str) -> bool>,
        /// A request body: `required` lists what serde cannot do without.
        missing_ok: &'a dyn Fn(&str) -> bool,
        seen: BTreeSet<String>,
        errors: Vec<String>,
    }

    impl Walk<'_> {
        fn check(&mut self, schema: &Value, value: &Value, at: &str) {
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    self.seen.insert(name.to_string());
                }
                let target = resolve(self.doc, schema);
                return self.check(target, value, at);
            }
            if let Some(branches) = schema.get("oneOf").or(schema.get("anyOf")).and_then(Value::as_array) {
                let mut passing = 0;
                let mut failures = Vec::new();
                for branch in branches {
                    if !value.is_null() && branch == &json!({"type": "null"}) {
                        continue; // the `null` of a nullable `$ref`: nothing to say
                    }
                    let before = self.errors.len();
                    self.check(branch, value, at);
                    if self.errors.len() == before {
                        passing += 1;
                    } else {
                        failures.extend(self.errors.drain(before..));
                    }
                }
                let one_of = schema.get("oneOf").is_some();
                if passing == 0 && failures.iter().all(|f| f.starts_with(at)) && branches.len() == 2 {
                    self.errors.extend(failures); // a nullable `$ref`: its own errors say it
                } else if passing == 0 || (one_of && passing > 1) {
                    self.errors.push(format!(
                        "{at}: {passing} branches of oneOf/anyOf match {value}: {failures:?}"
                    ));
                }
                return;
            }
            match schema.get("type") {
                Some(Value::String(t)) if !type_matches(t, value) => {
                    return self.errors.push(format!("{at}: {value} is not {t}"));
                }
                Some(Value::Array(ts)) if !ts.iter().any(|t| type_matches(t.as_str().unwrap(), value)) => {
                    return self.errors.push(format!("{at}: {value} is none of {ts:?}"));
                }
                _ => {}
            }
            if let Some(constant) = schema.get("const") {
                if constant != value {
                    self.errors.push(format!("{at}: {value} is not {constant}"));
                }
            }
            // A string holding JSON (an SSE event's `data`): check what it holds.
            if let (Some(content), Some(text)) = (schema.get("contentSchema"), value.as_str()) {
                match serde_json::from_str::<Value>(text) {
                    Ok(inner) => self.check(content, &inner, &format!("{at}(JSON)")),
                    Err(e) => self.errors.push(format!("{at}: not JSON ({e}): {text}")),
                }
            }
            if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                if !values.contains(value) {
                    self.errors.push(format!("{at}: {value} is not one of {values:?}"));
                }
            }
            if let (Some(min), Some(v)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64()) {
                if v < min {
                    self.errors.push(format!("{at}: {v} < minimum {min}"));
                }
            }
            if let (Some(max), Some(v)) = (schema.get("maximum").and_then(Value::as_f64), value.as_f64()) {
                if v > max {
                    self.errors.push(format!("{at}: {v} > maximum {max}"));
                }
            }
            match value {
                Value::Array(items) => {
                    let len = items.len() as u64;
                    if schema.get("minItems").and_then(Value::as_u64).is_some_and(|m| len < m)
                        || schema.get("maxItems").and_then(Value::as_u64).is_some_and(|m| len > m)
                    {
                        self.errors.push(format!("{at}: {len} items out of minItems/maxItems"));
                    }
                    if let Some(item) = schema.get("items") {
                        for (i, v) in items.iter().enumerate() {
                            self.check(item, v, &format!("{at}/{i}"));
                        }
                    }
                }
                Value::Object(map) => self.object(schema, map, at),
                _ => {}
            }
        }

        fn object(&mut self, schema: &Value, map: &serde_json::Map<String, Value>, at: &str) {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let written: BTreeSet<&String> = map.keys().collect();
                let declared: BTreeSet<&String> = props.keys().collect();
                if written != declared {
                    self.errors.push(format!(
                        "{at}: serde writes {written:?} but the schema declares {declared:?}"
                    ));
                }
                let required: BTreeSet<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if schema.get("additionalProperties") != Some(&Value::Bool(false)) {
                    self.errors
                        .push(format!("{at}: a struct's schema needs additionalProperties: false"));
                }
                for (key, sub) in props {
                    let Some(v) = map.get(key) else { continue };
                    let pointer = format!("{at}/{key}");
                    let nullable = allows_null(self.doc, sub);
                    let null_ok = self.null_ok.map_or(nullable, |f| f(&pointer));
                    if nullable != null_ok {
                        self.errors.push(format!(
                            "{pointer}: the schema {} null but the Rust type {}",
                            if nullable { "allows" } else { "does not allow" },
                            if null_ok { "is an Option" } else { "is not" }
                        ));
                    }
                    let must = !(self.missing_ok)(&pointer);
                    if required.contains(key.as_str()) != must {
                        self.errors.push(format!(
                            "{pointer}: `required` should {}list it",
                            if must { "" } else { "not " }
                        ));
                    }
                    self.check(sub, v, &pointer);
                }
            } else if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                if map.is_empty() {
                    self.errors.push(format!("{at}: give the sample map an entry to check"));
                }
                for (key, v) in map {
                    self.check(values, v, &format!("{at}/{key}"));
                }
            }
        }
    }

    /// Whether `T` still deserializes from `value` with the thing at `pointer` changed.
    fn accepts<T: DeserializeOwned>(value: &Value, pointer: &str, change: fn(&mut Value, &str)) -> bool {
        let mut v = value.clone();
        change(&mut v, pointer);
        serde_json::from_value::<T>(v).is_ok()
    }

    fn set_null(v: &mut Value, pointer: &str) {
        *v.pointer_mut(pointer).unwrap() = Value::Null;
    }

    fn remove(v: &mut Value, pointer: &str) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
    }

    /// Checks `sample` against `schema`; names the component schemas it went through.
    /// A request body's `required` must list exactly what `T` cannot do without; in an
    /// answer every field is required (serde writes them all).
    fn conforms<T: Serialize + DeserializeOwned>(
        doc: &Value,
        schema: &Value,
        sample: &T,
        request: bool,
    ) -> (BTreeSet<String>, Vec<String>) {
        let value = serde_json::to_value(sample).unwrap();
        let null_ok = |p: &str| accepts::<T>(&value, p, set_null);
        let missing_ok = |p: &str| request && accepts::<T>(&value, p, remove);
        let mut walk = Walk {
            doc,
            null_ok: Some(&null_ok),
            missing_ok: &missing_ok,
            seen: BTreeSet::new(),
            errors: Vec::new(),
        };
        walk.check(schema, &value, "");
        (walk.seen, walk.errors)
    }

    /// Checks an answer that has no api type: its shape only, not its nullability.
    fn conforms_json(doc: &Value, schema: &Value, value: &Value) -> (BTreeSet<String>, Vec<String>) {
        let mut walk = Walk {
            doc,
            null_ok: None,
            missing_ok: &|_| false,
            seen: BTreeSet::new(),
            errors: Vec::new(),
        };
        walk.check(schema, value, "");
        (walk.seen, walk.errors)
    }

    /// The `application/json` schema of an operation's answer (or request body).
    fn schema_of<'a>(doc: &'a Value, method: &str, path: &str, code: &str) -> &'a Value {
        let op = &doc["paths"][path][method.to_lowercase()];
        let holder = if code == "body" {
            &op["requestBody"]
        } else {
            &op["responses"][code]
        };
        let schema = &resolve(doc, holder)["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "{method} {path} {code}: no application/json schema");
        schema
    }

    fn at(secs: u64) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000 + secs)
    }

    fn usage() -> UsageInfo {
        UsageInfo {
            used_bytes: 6_700_000_000,
            total_bytes: 16_000_000_000,
            usage_ratio: 0.4188,
            level: "ok".into(),
        }
    }

    /// A program with every `Option` set, so nested schemas are walked too.
    fn program_status() -> ProgramStatus {
        ProgramStatus {
            name: "mail-watcher".into(),
            state: "running".into(),
            reason: Some("running".into()),
            enabled: true,
            pid: Some(4242),
            restarts: 3,
            uptime_seconds: Some(61),
            last_exit_code: Some(1),
            last_exit: Some(LastExit {
                at: rfc3339(at(0)),
                reason: "exit_code".into(),
                message: "exit code 1".into(),
                code: Some(1),
                signal: Some(9),
            }),
            next_restart_at: Some(rfc3339(at(2))),
            next_restart_in_seconds: Some(1.5),
            memory_bytes: Some(12_345_678),
            cpu_percent: Some(2.5),
            probe: Some(ProbeInfo {
                kind: "mcp".into(),
                status: "healthy".into(),
                ok: Some(true),
                message: Some("MCP server calendar 1.2.0".into()),
                checked_at: Some(rfc3339(at(1))),
                duration_ms: Some(4.112),
                consecutive_failures: 0,
                action: "restart".into(),
            }),
            port: Some(9100),
            healthy: true,
            required: true,
            job: Some(JobInfo {
                schedule: "*/5 * * * *".into(),
                timezone: "Europe/Berlin".into(),
                next_due: Some(rfc3339(at(300))),
                last_run: Some(JobRun {
                    started_at: rfc3339(at(0)),
                    finished_at: Some(rfc3339(at(2))),
                    duration_seconds: Some(2.0),
                    exit_code: Some(0),
                    outcome: "succeeded".into(),
                }),
                last_skipped: None,
                queued: false,
            }),
            instance: Some(InstanceInfo {
                of: "calendar-mcp".into(),
                index: 0,
            }),
        }
    }

    fn status() -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: 3605,
            warden: WardenInfo {
                pid: 1,
                started_at: rfc3339(at(0)),
                cgroup: Some("/sys/fs/cgroup/warden-1".into()),
            },
            programs: vec![program_status()],
            system: Some(SystemInfo {
                at: rfc3339(at(0)),
                level: "warning".into(),
                cpu: Some(CpuInfo {
                    usage_ratio: 0.125,
                    level: "ok".into(),
                    cores: 2,
                }),
                memory: usage(),
                disks: vec![DiskInfo {
                    mount: "/".into(),
                    filesystem: "ext4".into(),
                    usage: usage(),
                    error: Some("no such mount".into()),
                }],
                load_average: [0.31, 0.27, 0.2],
                findings: vec![Finding {
                    component: "disk:/".into(),
                    level: "warning".into(),
                    reason: "disk / 83% full".into(),
                }],
            }),
            checks: BTreeMap::from([(
                "db".to_string(),
                CheckInfo {
                    kind: "postgres".into(),
                    required: true,
                    status: "up".into(),
                    latency_ms: Some(0.412),
                    message: "ok".into(),
                    checked_at: Some(rfc3339(at(1))),
                    since: Some(rfc3339(at(0))),
                    consecutive_failures: 0,
                },
            )]),
        }
    }

    fn program_detail() -> ProgramDetail {
        ProgramDetail {
            status: program_status(),
            config: ProgramConfig {
                command: "python3".into(),
                args: vec!["-m".into(), "watchers.mail".into()],
                cwd: Some("/srv".into()),
                env: BTreeMap::from([("API_KEY".to_string(), "***".to_string())]),
                restart: "always".into(),
                autostart: true,
                depends_on: vec!["db".into()],
                stop_signal: "SIGTERM".into(),
                stop_timeout: "10s".into(),
                port: Some("auto".into()),
            },
        }
    }

    fn alert_info() -> AlertInfo {
        AlertInfo {
            fingerprint: "program_crashed:mail-watcher".into(),
            severity: "error".into(),
            summary: "mail-watcher crashed: exit code 1".into(),
            program: Some("mail-watcher".into()),
            at: "2026-11-23T10:00:00.000Z".into(),
            status: "firing".into(),
            silenced: false,
            reason: Some("exit code 1".into()),
            exit_code: Some(1),
            signal: None,
            restarts: Some(3),
            stderr_tail: vec!["Traceback (most recent call last):".into()],
        }
    }

    fn log_line() -> LogLineInfo {
        LogLineInfo {
            at: "2026-11-23T10:00:04.120512Z".into(),
            stream: "stdout".into(),
            text: "checked 12 mails".into(),
        }
    }

    #[test]
    fn every_schema_is_what_serde_writes_for_its_api_type() {
        let doc = doc();
        let mut seen = BTreeSet::new();
        let mut errors = Vec::new();
        let mut run = |what: &str, (s, e): (BTreeSet<String>, Vec<String>)| {
            seen.extend(s);
            errors.extend(e.into_iter().map(|e| format!("{what}: {e}")));
        };
        run(
            "GET /status",
            conforms(&doc, schema_of(&doc, "GET", "/status", "200"), &status(), false),
        );
        run(
            "GET /api/v1/programs",
            conforms(
                &doc,
                schema_of(&doc, "GET", "/api/v1/programs", "200"),
                &vec![program_status()],
                false,
            ),
        );
        run(
            "GET /api/v1/programs/{name}",
            conforms(
                &doc,
                schema_of(&doc, "GET", "/api/v1/programs/{name}", "200"),
                &program_detail(),
                false,
            ),
        );
        let control = ControlAnswer {
            program: "mail-watcher".into(),
            action: "restart".into(),
            state: "running".into(),
            pid: Some(4243),
        };
        for code in ["200", "202"] {
            let schema = schema_of(&doc, "POST", "/api/v1/programs/{name}/{action}", code);
            run("POST control", conforms(&doc, schema, &control, false));
        }
        let tail = LogTail {
            program: "mail-watcher".into(),
            lines: vec![log_line()],
        };
        run(
            "GET logs",
            conforms(
                &doc,
                schema_of(&doc, "GET", "/api/v1/programs/{name}/logs", "200"),
                &tail,
                false,
            ),
        );
        let reload = ReloadAnswer {
            added: vec!["a".into()],
            changed: vec!["b".into()],
            removed: vec!["c".into()],
            unchanged: vec!["d".into()],
        };
        run(
            "POST reload",
            conforms(&doc, schema_of(&doc, "POST", "/api/v1/reload", "200"), &reload, false),
        );
        let refused = ReloadRefused {
            error: "the configuration has 1 error".into(),
            errors: vec!["warden.toml:3:11: invalid duration".into()],
        };
        run(
            "POST reload",
            conforms(&doc, schema_of(&doc, "POST", "/api/v1/reload", "400"), &refused, false),
        );
        let alerts = Alerts {
            firing: vec![alert_info()],
            silences: vec![SilenceInfo {
                matcher: "system:disk".into(),
                until: "2026-11-23T12:00:00.000Z".into(),
            }],
            channels: vec!["email".into(), "slack".into()],
            notifications: vec![NotificationInfo {
                id: 7,
                channel: "email".into(),
                subject: "[ERROR] mail-watcher crashed: exit code 1".into(),
                status: "firing".into(),
                severity: "error".into(),
                state: "pending".into(),
                attempts: 2,
                last_error: Some("cannot connect to smtp.example.com:587: connection refused".into()),
                created_at: "2026-11-23T10:00:30.000Z".into(),
                sent_at: None,
                next_attempt_at: Some("2026-11-23T10:01:00.000Z".into()),
                alerts: vec![CarriedAlert {
                    fingerprint: "program_crashed:mail-watcher".into(),
                    status: "firing".into(),
                    severity: "error".into(),
                    summary: "mail-watcher crashed: exit code 1".into(),
                    program: Some("mail-watcher".into()),
                }],
            }],
            store_error: None,
        };
        run(
            "GET alerts",
            conforms(&doc, schema_of(&doc, "GET", "/api/v1/alerts", "200"), &alerts, false),
        );
        let scaled = ScaleAnswer {
            program: "mcp-files".into(),
            instances: 3,
            added: vec!["mcp-files-1".into(), "mcp-files-2".into()],
            removed: vec![],
        };
        run(
            "POST scale",
            conforms(
                &doc,
                schema_of(&doc, "POST", "/api/v1/programs/{name}/scale", "200"),
                &scaled,
                false,
            ),
        );
        run(
            "POST scale body",
            conforms(
                &doc,
                schema_of(&doc, "POST", "/api/v1/programs/{name}/scale", "body"),
                &ScaleRequest { instances: 3 },
                true,
            ),
        );
        let silence = SilenceInfo {
            matcher: "mail-watcher".into(),
            until: "2026-11-23T12:00:00.000Z".into(),
        };
        run(
            "POST silences",
            conforms(
                &doc,
                schema_of(&doc, "POST", "/api/v1/silences", "201"),
                &silence,
                false,
            ),
        );
        let request = SilenceRequest {
            matcher: "mail-watcher".into(),
            until: None,
            duration: Some("2h".into()),
        };
        run(
            "POST silences body",
            conforms(
                &doc,
                schema_of(&doc, "POST", "/api/v1/silences", "body"),
                &request,
                true,
            ),
        );
        let test = AlertTest {
            results: vec![AlertTestResult {
                channel: "slack".into(),
                id: 8,
                state: "failed".into(),
                error: Some("the Slack webhook refused the message: HTTP 404: no_service".into()),
            }],
        };
        for code in ["200", "502"] {
            run(
                "POST alerts/test",
                conforms(&doc, schema_of(&doc, "POST", "/api/v1/alerts/test", code), &test, false),
            );
        }
        let sample = status();
        let dashboard = Dashboard {
            warden: DashboardWarden {
                version: "0.1.0".into(),
                pid: 7,
                started_at: "2026-11-23T10:00:00.000Z".into(),
                uptime_seconds: 60,
            },
            overall: Overall {
                status: "degraded".into(),
                ready: true,
                summary: "1 of 2 programs running; not running: reports (failed)".into(),
                reasons: vec!["program:reports: failed".into()],
            },
            programs: vec![DashboardProgram {
                status: program_status(),
                history: UsageHistory {
                    at: vec![1_763_892_000, 1_763_892_015],
                    memory_bytes: vec![Some(52_428_800), None],
                    cpu_percent: vec![Some(1.5), None],
                },
            }],
            checks: sample.checks,
            system: sample.system,
            events: vec![EventInfo {
                at: "2026-11-23T10:00:01.000Z".into(),
                kind: "exited".into(),
                program: Some("mail-watcher".into()),
                severity: "warning".into(),
                message: "exited with code 1".into(),
            }],
            alerts: vec![alert_info()],
        };
        run(
            "GET /dashboard",
            conforms(&doc, schema_of(&doc, "GET", "/dashboard", "200"), &dashboard, false),
        );
        let history = EventHistory {
            events: vec![StoredEventInfo {
                id: 41,
                at: "2026-11-23T10:00:01.000Z".into(),
                kind: "exited".into(),
                program: Some("mail-watcher".into()),
                severity: "warning".into(),
                message: "exited with code 1".into(),
                details: json!({"pid": 4242, "reason": "exit_code", "code": 1, "signal": null}),
            }],
        };
        run(
            "GET /api/v1/events",
            conforms(&doc, schema_of(&doc, "GET", "/api/v1/events", "200"), &history, false),
        );
        let ready = Ready {
            ready: false,
            reasons: vec!["program web: backoff".into()],
        };
        let component = Component {
            status: "degraded".into(),
            reason: "failed: gave up after 10 restarts in 10m".into(),
            required: false,
        };
        let health = Health {
            status: "degraded".into(),
            ready: true,
            components: BTreeMap::from([("program:reports".to_string(), component)]),
        };
        for code in ["200", "503"] {
            run(
                "GET /ready",
                conforms(&doc, schema_of(&doc, "GET", "/ready", code), &ready, false),
            );
            run(
                "GET /health",
                conforms(&doc, schema_of(&doc, "GET", "/health", code), &health, false),
            );
        }
        let event = EventReport {
            kind: "email_processed".into(),
            count: 3,
            program: Some("mail-watcher".into()),
        };
        run(
            "POST events body",
            conforms(&doc, schema_of(&doc, "POST", "/api/v1/events", "body"), &event, true),
        );

        // Every error answer is an ErrorBody, except the four that say more.
        let error = ErrorBody {
            error: "no such program".into(),
        };
        for (method, path, op) in operations(&doc) {
            for code in op["responses"].as_object().unwrap().keys() {
                let special = matches!(
                    (method.as_str(), path.as_str(), code.as_str()),
                    ("GET", "/ready" | "/health", "503")
                        | ("POST", "/api/v1/reload", "400")
                        | ("POST", "/api/v1/alerts/test", "502")
                );
                if code.as_str() >= "400" && !special {
                    let schema = schema_of(&doc, &method, &path, code);
                    run(
                        &format!("{method} {path} {code}"),
                        conforms(&doc, schema, &error, false),
                    );
                }
            }
        }

        // `/live` answers a constant text: it must be what `api::Live` serializes to.
        let live = serde_json::to_value(Live { status: "live".into() }).unwrap();
        assert_eq!(serde_json::from_str::<Value>(crate::http::LIVE_ANSWER).unwrap(), live);
        let accepted = EventAccepted {
            kind: "email_processed".into(),
            count: 3,
            program: Some("mail-watcher".into()),
        };
        let typed: [(&str, &str, &str, Value); 2] = [
            ("GET", "/live", "200", live),
            ("POST", "/api/v1/events", "202", serde_json::to_value(accepted).unwrap()),
        ];
        for (method, path, code, sample) in typed {
            run(path, conforms_json(&doc, schema_of(&doc, method, path, code), &sample));
        }
        // The events of `?follow=true`, as the logs handler writes them.
        let logs = &doc["paths"]["/api/v1/programs/{name}/logs"]["get"]["responses"]["200"];
        let sse = &logs["content"]["text/event-stream"]["schema"];
        let line = json!({"event": "line", "data": serde_json::to_string(&log_line()).unwrap()});
        run("SSE line", conforms_json(&doc, sse, &line));
        let gap = json!({"event": "gap", "data": serde_json::to_string(&LogGap { skipped: 120 }).unwrap()});
        run("SSE gap", conforms_json(&doc, sse, &gap));

        assert!(
            errors.is_empty(),
            "src/openapi.json drifted from src/api.rs:\n  {}",
            errors.join("\n  ")
        );
        let all: BTreeSet<String> = doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let unchecked: Vec<_> = all.difference(&seen).collect();
        assert!(unchecked.is_empty(), "schemas no sample checks: {unchecked:?}");
    }

    /// The walker itself: it must notice a renamed field, a missing `null`, a wrong type.
    #[test]
    fn the_schema_check_catches_drift() {
        let doc = doc();
        let schema = json!({"$ref": "#/components/schemas/ControlAnswer"});
        let good = ControlAnswer {
            program: "web".into(),
            action: "stop".into(),
            state: "stopped".into(),
            pid: None,
        };
        assert_eq!(conforms(&doc, &schema, &good, false).1, Vec::<String>::new());
        // A field serde would write under another name.
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Renamed {
            program: String,
            action: String,
            state: String,
            process: Option<u32>,
        }
        let renamed = Renamed {
            program: "web".into(),
            action: "stop".into(),
            state: "stopped".into(),
            process: None,
        };
        let (_, errors) = conforms(&doc, &schema, &renamed, false);
        assert!(errors.iter().any(|e| e.contains("serde writes")), "{errors:?}");
        // `pid` no longer an Option.
        #[derive(serde::Serialize, serde::Deserialize)]
        struct NotOptional {
            program: String,
            action: String,
            state: String,
            pid: u32,
        }
        let strict = NotOptional {
            program: "web".into(),
            action: "stop".into(),
            state: "stopped".into(),
            pid: 7,
        };
        let (_, errors) = conforms(&doc, &schema, &strict, false);
        assert!(
            errors.iter().any(|e| e.contains("/pid: the schema allows null")),
            "{errors:?}"
        );
        // A value outside the enum, a string where a number belongs.
        let bad = json!({"program": "web", "action": "kill", "state": "stopped", "pid": "7"});
        let (_, errors) = conforms_json(&doc, &schema, &bad);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
