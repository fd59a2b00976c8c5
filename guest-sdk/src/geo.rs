//! Distances and speeds between sign-in locations.

/// Great-circle distance in km between two (lat, lon) points in degrees.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Speed in km/h needed to cover `km` in `elapsed_ms`; infinite when no time passed.
pub fn speed_kmh(km: f64, elapsed_ms: i64) -> f64 {
    let hours = elapsed_ms.unsigned_abs() as f64 / 3_600_000.0;
    if hours == 0.0 { if km > 0.0 { f64::INFINITY } else { 0.0 } } else { km / hours }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn paris_new_york() {
        let d = distance_km((48.8566, 2.3522), (40.7128, -74.0060));
        assert!((d - 5837.0).abs() < 15.0, "{d}");
        assert_eq!(speed_kmh(900.0, 3_600_000), 900.0);
    }
}
