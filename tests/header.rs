//! The checked-in C header must be what cbindgen generates from src/ffi/,
//! and every name it defines must carry the library's prefix.

fn generate() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(format!("{root}/cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    // Only the C ABI's folder (mod.rs and the modules it declares, in its
    // order): nothing else of the crate leaks into hosts.
    cbindgen::Builder::new()
        .with_src(format!("{root}/src/ffi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    String::from_utf8(generated).unwrap()
}

#[test]
fn header_is_up_to_date() {
    let root = env!("CARGO_MANIFEST_DIR");
    let generated = generate();
    let path = format!("{root}/include/media.h");
    if std::env::var_os("MEDIA_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/media.h is stale: run scripts/gen-header.sh and commit the result"
    );
}

/// Every identifier the header defines: macros, typedef names, struct and
/// enum tags, enumerators and functions.
fn defined_names(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let last_word = |s: &str| -> String {
        let s = s.trim_end_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        let start = s
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        s[start..].to_string()
    };
    // Comments hold prose, not definitions.
    let code: Vec<&str> = header
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect();
    let mut in_block_comment = false;
    let mut in_enum = false;
    for raw in code {
        let line = raw.trim();
        if in_block_comment {
            in_block_comment = !line.contains("*/");
            continue;
        }
        if line.starts_with("/*") {
            in_block_comment = !line.contains("*/");
            continue;
        }
        if let Some(rest) = line.strip_prefix("#define ") {
            names.push(word(rest));
        } else if let Some(rest) = line.strip_prefix("typedef ") {
            for kw in ["struct ", "enum ", "union "] {
                if let Some(tag) = rest.strip_prefix(kw) {
                    let tag = word(tag);
                    if !tag.is_empty() {
                        names.push(tag);
                    }
                }
            }
            in_enum = rest.starts_with("enum ");
            if let Some(i) = rest.find("(*") {
                // A function pointer type: `typedef R (*name)(args);`.
                names.push(word(&rest[i + 2..]));
            } else if line.ends_with(';') {
                names.push(last_word(line.trim_end_matches(';')));
            }
        } else if line.starts_with('}') && line.ends_with(';') {
            in_enum = false;
            let n = last_word(line.trim_end_matches(';'));
            if !n.is_empty() {
                names.push(n);
            }
        } else if in_enum && !line.is_empty() {
            names.push(word(line));
        } else if !raw.starts_with(' ') && !raw.starts_with('#') && line.contains('(') {
            // A function declaration: the name before the parameter list.
            let before = &line[..line.find('(').unwrap()];
            let n = last_word(before);
            if n != "extern" && !n.is_empty() {
                names.push(n);
            }
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

#[test]
fn every_defined_name_is_prefixed() {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/media.h"))
        .expect("include/media.h");
    let names = defined_names(&header);
    // The scan finds what it should: handles, enums, enumerators, functions.
    for expected in [
        "MEDIA_H",
        "media_engine",
        "media_result",
        "MEDIA_ERR_BAD_TOKEN",
        "media_engine_new",
        "media_result_str",
        "media_engine_config",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "the scan should see {expected}: {names:?}"
        );
    }
    let bad: Vec<&String> = names
        .iter()
        .filter(|n| !(n.starts_with("media_") || n.starts_with("MEDIA_")))
        .collect();
    assert!(
        bad.is_empty(),
        "include/media.h defines names without the media_/MEDIA_ prefix, which clash in hosts: {bad:?}"
    );
}

#[test]
fn the_scan_catches_unprefixed_names() {
    let sample = "#define MAX_AUDIENCE_LINKS 12\ntypedef uint8_t Quality;\n#define UNKNOWN 0\n\
                  typedef enum media_x {\n  MEDIA_X_A = 0,\n  DOWN = 6,\n} media_x;\n\
                  int helper(void);\ntypedef void (*callback)(void *userdata);\n";
    let names = defined_names(sample);
    for n in [
        "MAX_AUDIENCE_LINKS",
        "Quality",
        "UNKNOWN",
        "DOWN",
        "helper",
        "MEDIA_X_A",
        "callback",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
}
