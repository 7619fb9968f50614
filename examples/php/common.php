<?php
// What every PHP example shares: the gateway's origin, and one curl request that reports the
// status, the Location and whether a cookie was set (redirects are not followed: a partner
// hands them to the browser).
function sso_base(array $argv): string {
    return rtrim($argv[1] ?? (getenv('SSO_BASE_URL') ?: 'http://demoaws.localhost:8080'), '/');
}

function sso_request(string $url, ?array $form = null, array $headers = [], ?string $json = null): array {
    $ch = curl_init($url);
    $parts = parse_url($url);
    $port = $parts['port'] ?? ($parts['scheme'] === 'https' ? 443 : 80);
    if (str_ends_with($parts['host'], '.localhost')) {   // RFC 6761: *.localhost is loopback
        curl_setopt($ch, CURLOPT_RESOLVE, ["{$parts['host']}:$port:127.0.0.1"]);
    }
    curl_setopt_array($ch, [CURLOPT_RETURNTRANSFER => true, CURLOPT_HEADER => true,
        CURLOPT_FOLLOWLOCATION => false, CURLOPT_TIMEOUT => 30, CURLOPT_NOPROXY => '*']);
    if ($form !== null) {
        curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query($form));
    } elseif ($json !== null) {
        curl_setopt($ch, CURLOPT_POSTFIELDS, $json);
        $headers[] = 'Content-Type: application/json';
    }
    curl_setopt($ch, CURLOPT_HTTPHEADER, $headers);
    $raw = curl_exec($ch);
    if ($raw === false) {
        fwrite(STDERR, "request to $url failed: " . curl_error($ch) . "\n");
        exit(1);
    }
    $size = curl_getinfo($ch, CURLINFO_HEADER_SIZE);
    $head = substr($raw, 0, $size);
    preg_match('/^location:\s*(\S+)/mi', $head, $m);
    return ['status' => curl_getinfo($ch, CURLINFO_RESPONSE_CODE), 'location' => $m[1] ?? '',
            'cookie' => (bool) preg_match('/^set-cookie:/mi', $head), 'body' => substr($raw, $size)];
}

function sso_fail(string $what): never {
    fwrite(STDERR, "$what\n");
    exit(1);
}
