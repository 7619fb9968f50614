<?php
// The partner side of the signed link, exactly as the Virtual Agent Connect document shows it:
//   $token = md5($email . $timestamp . $vendorpass);
// Reads a JSON list of [identifier, timestamp, vendorpass] and prints one token per line.
$rows = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
foreach ($rows as [$email, $timestamp, $vendorpass]) {
    $token = md5($email . $timestamp . $vendorpass);
    echo $token, "\n";
}
