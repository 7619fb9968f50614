<?php
// The PHP peer of the load comparison (benches/load/compare.sh): the three flows written as
// plain PHP scripts, the way a partner-side developer would write them from the seeds, with
// nothing more than each flow needs. Vendors, users and keys live in arrays; one-time tokens
// are files (created with O_EXCL semantics, consumed by an atomic rename, so each is used
// exactly once); sessions are PHP's file sessions. Loopback benchmark use only.

const VENDORS = ['1001' => 'vendorpass', '1002' => 'vendorpass2'];
const CLIENTS = ['1234' => true, '5678' => true, '5679' => true];
const MAX_AGE = 36000; // 10 hours

function token_dir(): string {
    $dir = getenv('PEER_TOKENS') ?: (sys_get_temp_dir() . '/peer-tokens');
    if (!is_dir($dir)) { @mkdir($dir, 0700, true); }
    return $dir;
}

function mint_token(array $claims, int $ttl): string {
    $token = bin2hex(random_bytes(16));
    $claims['expires'] = time() + $ttl;
    file_put_contents(token_dir() . "/$token", json_encode($claims), LOCK_EX);
    return $token;
}

/** The token's claims, consuming it (exactly once: rename is atomic), or null. */
function redeem_token(string $token): ?array {
    if (!preg_match('/^[0-9a-f]{32}$/', $token)) { return null; }
    $path = token_dir() . "/$token";
    $used = "$path.used";
    if (!@rename($path, $used)) { return null; }
    $claims = json_decode(file_get_contents($used), true);
    @unlink($used);
    if (!is_array($claims) || $claims['expires'] < time()) { return null; }
    return $claims;
}

function start_session(array $who): void {
    session_start();
    session_regenerate_id(true);
    foreach ($who as $k => $v) { $_SESSION[$k] = $v; }
}

function redirect(string $to): void {
    header("Location: $to", true, 302);
}
