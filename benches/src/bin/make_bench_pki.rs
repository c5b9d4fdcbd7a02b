//! Writes the wss echo benchmark's test certificates: `make_bench_pki DIR` leaves `ca.pem`,
//! `cert.pem` and `key.pem` in DIR (see `tether_benches::tls::make_pki`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: make_bench_pki DIR")?;
    std::fs::create_dir_all(&dir)?;
    tether_benches::tls::make_pki(std::path::Path::new(&dir))
}
