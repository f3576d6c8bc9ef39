//! The little of `oslo_utils.timeutils` and `uuid` the Images API uses: `utcnow()` (kept as
//! microseconds since the epoch, the precision sqlite stores), `isotime()` (what
//! `_format_image` shows: `YYYY-MM-DDTHH:MM:SSZ`), and `str(uuid.uuid4())` for image and
//! request ids. Handed on to the domain, the serializers and the context middleware.

use std::time::{SystemTime, UNIX_EPOCH};

/// `timeutils.utcnow()`, in microseconds since the epoch.
pub fn utcnow() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    d.as_micros() as i64
}

/// `timeutils.isotime(at)`: `2026-11-27T14:46:34Z`.
pub fn isotime(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `str(uuid.uuid4())`, from the kernel's random numbers.
pub fn uuid4() -> String {
    let mut b = [0u8; 16];
    let mut filled = 0;
    while filled < b.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `b`.
        let n = unsafe { libc::getrandom(b[filled..].as_mut_ptr().cast(), b.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // No kernel randomness: fall back to time and pid, still unique enough for ids.
            let t = utcnow() as u128 ^ ((std::process::id() as u128) << 64);
            b = t.to_le_bytes();
            break;
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Whether `s` is a uuid as Glance's schema `id` pattern asks (any case).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotime_as_oslo() {
        assert_eq!(isotime(0), "1970-01-01T00:00:00Z");
        assert_eq!(isotime(1_795_790_794_123_456), "2026-11-27T14:46:34Z");
        assert_eq!(isotime(951_782_400_000_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn uuid4_shape() {
        let u = uuid4();
        assert!(is_uuid(&u), "{u}");
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid4());
        assert!(!is_uuid("not-a-uuid"));
    }
}
