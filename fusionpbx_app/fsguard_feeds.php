<?php
/*
	fsguard: blacklist feeds (VoIP Blacklist and others): status, last update, counts, refresh now.
*/

//includes files
	require_once dirname(__DIR__, 2) . "/resources/require.php";
	require_once "resources/check_auth.php";
	require_once __DIR__ . "/resources/functions.php";

//check permissions
	if (!permission_exists('fsguard_feed_view')) {
		echo "access denied";
		exit;
	}

//add multi-lingual support
	$language = new text;
	$text = $language->get();

//refresh now: queued for the fsguard service, which fetches as root
	if ($_SERVER['REQUEST_METHOD'] == 'POST') {
		if (!permission_exists('fsguard_feed_refresh')) {
			echo "access denied";
			exit;
		}
		$token = new token;
		if (!$token->validate($_SERVER['PHP_SELF'])) {
			message::add($text['message-invalid_token'], 'negative');
			header('Location: fsguard_feeds.php');
			exit;
		}
		if (($_POST['action'] ?? '') == 'refresh') {
			fsguard_enqueue($database, 'feeds_update');
			message::add($text['message-queued']);
		}
		header('Location: fsguard_feeds.php');
		exit;
	}

//get the feeds
	$sql = "select * from v_fsguard_feeds ";
	$sql .= "order by feed_name ";
	$feeds = $database->select($sql, null, 'all');
	unset($sql);

//the last refresh requests
	$sql = "select action_status, action_result, requested_by, insert_date from v_fsguard_actions ";
	$sql .= "where action_name = :action_name ";
	$sql .= "order by insert_date desc limit 3 ";
	$parameters['action_name'] = 'feeds_update';
	$requests = $database->select($sql, $parameters, 'all');
	unset($sql, $parameters);

//create the token
	$object = new token;
	$token = $object->create($_SERVER['PHP_SELF']);

//include the header
	$document['title'] = $text['title-fsguard_feeds'];
	require_once "resources/header.php";

//show the content
	echo "<div class='action_bar' id='action_bar'>\n";
	echo "	<div class='heading'><b>".escape($text['title-fsguard_feeds'])."</b></div>\n";
	echo "	<div class='actions'>\n";
	if (permission_exists('fsguard_feed_refresh')) {
		echo "		<form method='post' style='display: inline;'>\n";
		echo "			<input type='hidden' name='action' value='refresh'>\n";
		echo "			<input type='hidden' name='".escape($token['name'])."' value='".escape($token['hash'])."'>\n";
		echo "			".button::create(['type' => 'submit', 'label' => escape($text['button-refresh']), 'icon' => 'sync-alt', 'id' => 'btn_refresh'])."\n";
		echo "		</form>\n";
	}
	echo fsguard_tabs($text, 'fsguard_feeds.php');
	echo "	</div>\n";
	echo "	<div style='clear: both;'></div>\n";
	echo "</div>\n";
	echo escape($text['description-fsguard_feeds'])."\n";
	echo "<br /><br />\n";

	echo "<table class='list' id='fsguard_feeds'>\n";
	echo "<tr class='list-header'>\n";
	foreach (['label-feed', 'label-status', 'label-last_attempt', 'label-last_success', 'label-entries',
		'label-added', 'label-removed', 'label-rejected', 'label-error', 'label-enabled'] as $key) {
		echo "	<th>".escape($text[$key])."</th>\n";
	}
	echo "</tr>\n";
	if (is_array($feeds) && @sizeof($feeds) != 0) {
		foreach ($feeds as $row) {
			$enabled = in_array($row['feed_enabled'], [true, 1, '1', 't', 'true'], true);
			echo "<tr class='list-row'>\n";
			echo "	<td title='".escape($row['feed_url'])."'>".escape($row['feed_name'])."</td>\n";
			echo "	<td>".escape($row['last_status'])."</td>\n";
			echo "	<td>".escape(fsguard_date($row['last_attempt']))."</td>\n";
			echo "	<td>".escape(fsguard_date($row['last_success']))."</td>\n";
			echo "	<td>".escape($row['entry_count'])."</td>\n";
			echo "	<td>".escape($row['added_count'])."</td>\n";
			echo "	<td>".escape($row['removed_count'])."</td>\n";
			echo "	<td>".escape($row['rejected_count'])."</td>\n";
			echo "	<td>".escape($row['last_error'])."</td>\n";
			echo "	<td>".escape($enabled ? $text['label-true'] : $text['label-false'])."</td>\n";
			echo "</tr>\n";
		}
	}
	else {
		echo "<tr><td colspan='10'>".escape($text['label-none'])."</td></tr>\n";
	}
	echo "</table>\n";
	echo "<br />\n";

	if (is_array($requests) && @sizeof($requests) != 0) {
		echo "<b>".escape($text['label-requests'])."</b>\n";
		echo "<table class='list'>\n";
		foreach ($requests as $row) {
			echo "<tr class='list-row'>\n";
			echo "	<td>".escape($row['insert_date'])."</td>\n";
			echo "	<td>".escape($row['action_status'])."</td>\n";
			echo "	<td>".escape($row['action_result'])."</td>\n";
			echo "	<td>".escape($row['requested_by'])."</td>\n";
			echo "</tr>\n";
		}
		echo "</table>\n";
	}

//include the footer
	require_once "resources/footer.php";

?>
