//! `--config FILE`: `key = value` lines, with the long flag names as keys
//! (`workers = 4`, `keep-alive = 10` or `keep_alive = 10`), and Glance's `glance-api.conf`
//! keys understood too, so an existing `[DEFAULT]` section can be pointed at directly.
//!
//! Whose keys are where, as in a real `glance-api.conf`:
//! - `[DEFAULT]` is shared with the application: our keys and the application's declared
//!   options are read; any other key is the application's business and skipped, unless it
//!   looks like a misspelling of one of ours (`worker = 4`), which is an error.
//! - `[may-wsgi]` is ours alone, and `[<program>]` (the ported application's name) the
//!   application's alone: there an unknown key is an error.
//! - Every other section belongs to someone else and is skipped.
//!
//! Errors name the file and the line.
//!
//! Hands `config::parse_args` a list of [`Entry`]s, each a long flag name, its value and
//! the file and line it came from; what the file sets, a flag on the command line overrides.

use std::path::Path;

/// One setting from the file, by the long flag name it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub flag: String,
    pub value: String,
    /// "FILE:LINE", for error messages.
    pub origin: String,
}

/// How a Glance key maps onto our flags.
const GLANCE_KEYS: &[(&str, &str)] = &[
    ("workers", "workers"),
    ("backlog", "backlog"),
    ("tcp_keepidle", "tcp-keepidle"),
    ("client_socket_timeout", "client-timeout"),
];

/// The application's part of a config file: its section and the options it declared.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppKeys<'a> {
    /// The section that is the application's alone (its program name).
    pub section: &'a str,
    /// Option names that take a value, and those that are true/false.
    pub options: &'a [&'a str],
    pub bool_options: &'a [&'a str],
}

/// Whose keys a section holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// `[DEFAULT]`: ours and the application's.
    Shared,
    /// `[may-wsgi]`.
    Ours,
    /// `[<program>]`.
    App,
    Other,
}

/// The edit distance of two short strings (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// One of `known` that `key` is probably a misspelling of.
fn near_miss<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let allowed = if key.len() >= 8 { 2 } else { 1 };
    known
        .iter()
        .copied()
        .filter(|k| *k != key)
        .find(|k| distance(key, k) <= allowed)
}

/// Parses a config file's text. `flags` lists the long flags a file may set; `bool_flags`
/// those that take true/false; `app` the application's own keys.
pub fn parse(
    name: &str,
    text: &str,
    flags: &[&str],
    bool_flags: &[&str],
    app: AppKeys<'_>,
) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut owner = Owner::Shared;
    let mut bind_host: Option<(String, String)> = None;
    let mut bind_port: Option<(String, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let origin = format!("{name}:{}", i + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let section = section
                .strip_suffix(']')
                .ok_or_else(|| format!("{origin}: a section header must end with ']'"))?;
            let section = section.trim();
            owner = match section {
                "DEFAULT" => Owner::Shared,
                "may-wsgi" | "may_wsgi" => Owner::Ours,
                s if !app.section.is_empty() && s == app.section => Owner::App,
                _ => Owner::Other,
            };
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("{origin}: expected 'key = value', got {line:?}"))?;
        let key = key.trim();
        let mut value = value.trim();
        if value.len() >= 2
            && (value.starts_with('"') && value.ends_with('"') || value.starts_with('\'') && value.ends_with('\''))
        {
            value = &value[1..value.len() - 1];
        }
        if owner == Owner::Other {
            continue;
        }
        let value = value.to_owned();
        if matches!(owner, Owner::Shared | Owner::App) {
            let option = key.replace('_', "-");
            let bool_option = app.bool_options.contains(&option.as_str());
            if bool_option || app.options.contains(&option.as_str()) {
                let value = if bool_option {
                    match parse_bool(&value) {
                        Some(true) => "true".to_owned(),
                        Some(false) => "false".to_owned(),
                        None => return Err(format!("{origin}: {key}: expected true or false, got {value:?}")),
                    }
                } else {
                    value
                };
                out.push(Entry {
                    flag: option,
                    value,
                    origin: origin.clone(),
                });
                continue;
            }
            if owner == Owner::App {
                let mut known: Vec<&str> = app.options.to_vec();
                known.extend_from_slice(app.bool_options);
                return Err(match near_miss(&option, &known) {
                    Some(k) => format!(
                        "{origin}: unknown key {key:?} in [{}] (did you mean {k:?}?)",
                        app.section
                    ),
                    None => format!("{origin}: unknown key {key:?} in [{}]", app.section),
                });
            }
        }
        let mut push = |flag: &str, value: String| {
            out.push(Entry {
                flag: flag.to_owned(),
                value,
                origin: origin.clone(),
            })
        };
        match key {
            "bind_host" => bind_host = Some((value, origin.clone())),
            "bind_port" => bind_port = Some((value, origin.clone())),
            "http_keepalive" => match parse_bool(&value) {
                Some(true) => {}
                Some(false) => push("keep-alive", "0".to_owned()),
                None => {
                    return Err(format!(
                        "{origin}: http_keepalive: expected true or false, got {value:?}"
                    ))
                }
            },
            "max_header_line" => {
                push("limit-request-line", value.clone());
                push("limit-request-field-size", value);
            }
            _ => {
                if let Some((_, flag)) = GLANCE_KEYS.iter().find(|(k, _)| *k == key) {
                    push(flag, value);
                    continue;
                }
                let flag = key.replace('_', "-");
                if bool_flags.contains(&flag.as_str()) {
                    match parse_bool(&value) {
                        Some(true) => push(&flag, String::new()),
                        Some(false) => {}
                        None => return Err(format!("{origin}: {key}: expected true or false, got {value:?}")),
                    }
                } else if flags.contains(&flag.as_str()) {
                    push(&flag, value);
                } else if owner == Owner::Ours {
                    return Err(format!("{origin}: unknown key {key:?}"));
                } else {
                    // [DEFAULT] is shared: the application's other settings pass, but a
                    // near miss of one of ours is a typo that would silently do nothing.
                    let mut known: Vec<&str> = flags.to_vec();
                    known.extend_from_slice(bool_flags);
                    known.extend(GLANCE_KEYS.iter().map(|(k, _)| *k));
                    if let Some(k) = near_miss(&flag, &known).or_else(|| near_miss(key, &known)) {
                        return Err(format!("{origin}: unknown key {key:?} (did you mean {k:?}?)"));
                    }
                }
            }
        }
    }
    if bind_host.is_some() || bind_port.is_some() {
        // Glance's defaults: every interface, the image API's port.
        let (host, origin) = bind_host
            .clone()
            .unwrap_or_else(|| ("0.0.0.0".to_owned(), String::new()));
        let (port, port_origin) = bind_port.unwrap_or_else(|| ("9292".to_owned(), String::new()));
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        out.push(Entry {
            flag: "bind".to_owned(),
            value: format!("{host}:{port}"),
            origin: if origin.is_empty() { port_origin } else { origin },
        });
    }
    Ok(out)
}

/// Reads and parses a config file.
pub fn load(path: &Path, flags: &[&str], bool_flags: &[&str], app: AppKeys<'_>) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    parse(&path.display().to_string(), &text, flags, bool_flags, app)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[&str] = &[
        "workers",
        "keep-alive",
        "bind",
        "backlog",
        "tcp-keepidle",
        "client-timeout",
    ];
    const BOOLS: &[&str] = &["debug"];

    const APP: AppKeys<'static> = AppKeys {
        section: "glance-api",
        options: &["data-dir"],
        bool_options: &["show-image-direct-url"],
    };

    fn flags_of(text: &str) -> Result<Vec<(String, String)>, String> {
        Ok(parse("f.conf", text, FLAGS, BOOLS, APP)?
            .into_iter()
            .map(|e| (e.flag, e.value))
            .collect())
    }

    #[test]
    fn our_keys_and_comments() {
        let got =
            flags_of("# comment\n; another\nworkers = 4\nkeep_alive = 10\ndebug = yes\n\nbind = \"unix:/tmp/s\"\n")
                .unwrap();
        assert_eq!(
            got,
            vec![
                ("workers".into(), "4".into()),
                ("keep-alive".into(), "10".into()),
                ("debug".into(), "".into()),
                ("bind".into(), "unix:/tmp/s".into()),
            ]
        );
    }

    #[test]
    fn glance_default_section() {
        let text = "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = 9393\nworkers = 2\nbacklog = 128\n\
                    tcp_keepidle = 300\nclient_socket_timeout = 900\nhttp_keepalive = False\nmax_header_line = 16384\n\
                    [database]\nconnection = sqlite://\n";
        let got = flags_of(text).unwrap();
        for want in [
            ("workers", "2"),
            ("backlog", "128"),
            ("tcp-keepidle", "300"),
            ("client-timeout", "900"),
            ("keep-alive", "0"),
            ("limit-request-line", "16384"),
            ("limit-request-field-size", "16384"),
            ("bind", "127.0.0.1:9393"),
        ] {
            assert!(
                got.contains(&(want.0.to_owned(), want.1.to_owned())),
                "{want:?} in {got:?}"
            );
        }
        assert!(flags_of("[DEFAULT]\nbind_host = ::1\n")
            .unwrap()
            .contains(&("bind".into(), "[::1]:9292".into())));
    }

    #[test]
    fn default_is_shared_with_the_application_and_typos_of_ours_are_caught() {
        let text = "[DEFAULT]\nworkers = 2\nenabled_backends = fs:file\ndata_dir = /srv/glance\n\
                    show_image_direct_url = True\n[glance-api]\ndata-dir = /srv/other\n";
        let got = flags_of(text).unwrap();
        assert_eq!(
            got,
            vec![
                ("workers".into(), "2".into()),
                ("data-dir".into(), "/srv/glance".into()),
                ("show-image-direct-url".into(), "true".into()),
                ("data-dir".into(), "/srv/other".into()),
            ],
            "Glance's own enabled_backends is skipped"
        );
        assert_eq!(
            flags_of("[DEFAULT]\nworker = 2\n").unwrap_err(),
            "f.conf:2: unknown key \"worker\" (did you mean \"workers\"?)"
        );
        assert_eq!(
            flags_of("[glance-api]\ndata_dirs = x\n").unwrap_err(),
            "f.conf:2: unknown key \"data_dirs\" in [glance-api] (did you mean \"data-dir\"?)"
        );
        assert_eq!(distance("keep-alive", "keep-alive"), 0);
        assert_eq!(distance("worker", "workers"), 1);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        assert_eq!(
            flags_of("[may-wsgi]\nworkers = 2\nfrobs = 1\n").unwrap_err(),
            "f.conf:3: unknown key \"frobs\""
        );
        assert!(flags_of("workers 2\n")
            .unwrap_err()
            .starts_with("f.conf:1: expected 'key = value'"));
        assert!(flags_of("debug = maybe\n").unwrap_err().starts_with("f.conf:1: debug"));
        assert!(flags_of("[DEFAULT\n").unwrap_err().starts_with("f.conf:1:"));
        // Other programs' sections are not ours to judge.
        assert!(flags_of("[keystone_authtoken]\nauth_url = x\n").unwrap().is_empty());
    }
}
