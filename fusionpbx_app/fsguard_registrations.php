<?php
/*
	fsguard: registrations currently whitelisted. Read from <state_dir>/fs/registrations.json, which
	the monitor inside FreeSWITCH writes (contract 1); an address with a live registration is never banned.
*/

//includes files
	require_once dirname(__DIR__, 2) . "/resources/require.php";
	require_once "resources/check_auth.php";
	require_once __DIR__ . "/resources/functions.php";

//check permissions
	if (!permission_exists('fsguard_registration_view')) {
		echo "access denied";
		exit;
	}

//add multi-lingual support
	$language = new text;
	$text = $language->get();

//read the snapshot (bounded: it is a file, not a database)
	$now = time();
	$path = fsguard_state_dir($settings ?? null).'/fs/registrations.json';
	$registrations = [];
	$written = null;
	$snapshot_ok = false;
	if (is_readable($path) && filesize($path) < 64 * 1024 * 1024) {
		$document_json = json_decode((string)file_get_contents($path), true);
		if (is_array($document_json) && ($document_json['version'] ?? null) == 1 && is_array($document_json['registrations'] ?? null)) {
			$snapshot_ok = true;
			$written = $document_json['written'] ?? null;
			foreach ($document_json['registrations'] as $entry) {
				if (!is_array($entry) || !is_numeric($entry['expires'] ?? null) || (float)$entry['expires'] <= $now) {
					continue;
				}
				if (fsguard_ip($entry['ip'] ?? '') === false) {
					continue;
				}
				$registrations[] = $entry;
			}
			usort($registrations, function ($a, $b) {
				return [inet_pton($a['ip']), (string)($a['user'] ?? '')] <=> [inet_pton($b['ip']), (string)($b['user'] ?? '')];
			});
		}
	}
	$addresses = count(array_unique(array_map(function ($r) { return $r['ip']; }, $registrations)));

//no snapshot: said in FusionPBX's message area
	if (!$snapshot_ok) {
		message::add($text['message-no_snapshot'].' ('.$path.')', 'alert');
	}

//include the header
	$document['title'] = $text['title-fsguard_registrations'];
	require_once "resources/header.php";

//show the content
	echo "<div class='action_bar' id='action_bar'>\n";
	echo "	<div class='heading'><b>".escape($text['title-fsguard_registrations'])."</b> (".escape($addresses).")</div>\n";
	echo "	<div class='actions'>\n";
	echo fsguard_tabs($text, 'fsguard_registrations.php');
	echo "	</div>\n";
	echo "	<div style='clear: both;'></div>\n";
	echo "</div>\n";
	echo escape($text['description-fsguard_registrations'])."\n";
	echo "<br /><br />\n";

	if ($snapshot_ok && $written !== null) {
		echo escape($text['label-snapshot_written']).": ".escape(fsguard_date($written))."<br /><br />\n";
	}

	echo "<table class='list' id='fsguard_registrations'>\n";
	echo "<tr class='list-header'>\n";
	echo "	<th>".escape($text['label-ip_address'])."</th>\n";
	echo "	<th>".escape($text['label-user'])."</th>\n";
	echo "	<th>".escape($text['label-time_left'])."</th>\n";
	echo "	<th>".escape($text['label-transport'])."</th>\n";
	echo "	<th>".escape($text['label-profile'])."</th>\n";
	echo "</tr>\n";
	foreach ($registrations as $row) {
		$port = (string)($row['port'] ?? '');
		echo "<tr class='list-row'>\n";
		echo "	<td class='fsguard_ip'>".escape($row['ip']).(strlen($port) ? ":".escape($port) : "")."</td>\n";
		echo "	<td>".escape((string)($row['user'] ?? '')."@".(string)($row['realm'] ?? ''))."</td>\n";
		echo "	<td>".escape(fsguard_time_left($row['expires'], $now, ''))."</td>\n";
		echo "	<td>".escape((string)($row['proto'] ?? ''))."</td>\n";
		echo "	<td>".escape((string)($row['profile'] ?? ''))."</td>\n";
		echo "</tr>\n";
	}
	if (count($registrations) == 0) {
		echo "<tr><td colspan='5'>".escape($text['label-none'])."</td></tr>\n";
	}
	echo "</table>\n";

//include the footer
	require_once "resources/footer.php";

?>
