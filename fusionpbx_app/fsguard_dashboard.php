<?php
/*
	fsguard: current bans with their evidence, recent events, offenders behind whitelisted addresses.
	Unban and "whitelist this address" are queued for the fsguard service (v_fsguard_actions).
*/

//includes files
	require_once dirname(__DIR__, 2) . "/resources/require.php";
	require_once "resources/check_auth.php";
	require_once __DIR__ . "/resources/functions.php";

//check permissions
	if (!permission_exists('fsguard_view')) {
		echo "access denied";
		exit;
	}

//add multi-lingual support
	$language = new text;
	$text = $language->get();

//process a request: unban, or whitelist this address
	if ($_SERVER['REQUEST_METHOD'] == 'POST') {
		//validate the token
			$token = new token;
			if (!$token->validate($_SERVER['PHP_SELF'])) {
				message::add($text['message-invalid_token'], 'negative');
				header('Location: fsguard_dashboard.php');
				exit;
			}

		//validate the request
			$action = $_POST['action'] ?? '';
			$ip_address = fsguard_ip($_POST['ip_address'] ?? '');
			$permission = ['unban' => 'fsguard_unban', 'whitelist' => 'fsguard_whitelist_add'][$action] ?? '';
			if ($permission == '' || !permission_exists($permission)) {
				echo "access denied";
				exit;
			}
			if ($ip_address === false) {
				message::add($text['message-invalid_address'], 'negative');
				header('Location: fsguard_dashboard.php');
				exit;
			}

		//queue it for the fsguard service
			if ($action == 'unban') {
				fsguard_enqueue($database, 'unban', $ip_address, '');
			}
			else {
				fsguard_enqueue($database, 'allow', $ip_address, $text['label-whitelisted_from_dashboard']);
			}
			message::add($text['message-queued']);
			header('Location: fsguard_dashboard.php');
			exit;
	}

//get the current bans
	$now = time();
	$sql = "select * from v_fsguard_bans ";
	$sql .= "where ban_status = 'banned' ";
	$sql .= "and (ban_end is null or ban_end > :now) ";
	$sql .= "order by ban_start desc ";
	$sql .= "limit 500 ";
	$parameters['now'] = $now;
	$bans = $database->select($sql, $parameters, 'all');
	unset($sql, $parameters);

//get the cluster nodes (empty on a single host)
	$sql = "select node_name, last_seen, extract(epoch from now()) - last_seen as age ";
	$sql .= "from v_fsguard_cluster_nodes order by node_name ";
	$nodes = $database->select($sql, null, 'all');
	unset($sql);

//get the recent events
	$events_limit = 50;
	if (is_object($settings) && method_exists($settings, 'get')) {
		$events_limit = max(1, min(1000, (int)$settings->get('fsguard', 'events_limit', 50)));
	}
	$sql = "select * from v_fsguard_events ";
	$sql .= "order by event_time desc ";
	$sql .= "limit :limit ";
	$parameters['limit'] = $events_limit;
	$events = $database->select($sql, $parameters, 'all');
	unset($sql, $parameters);

//get the offenders behind whitelisted addresses
	$sql = "select * from v_fsguard_offenders ";
	$sql .= "order by last_seen desc ";
	$sql .= "limit :limit ";
	$parameters['limit'] = 100;
	$offenders = $database->select($sql, $parameters, 'all');
	unset($sql, $parameters);

//get the latest requests and what became of them
	$sql = "select action_name, action_argument, action_status, action_result, requested_by, insert_date ";
	$sql .= "from v_fsguard_actions ";
	$sql .= "order by insert_date desc ";
	$sql .= "limit :limit ";
	$parameters['limit'] = 10;
	$actions = $database->select($sql, $parameters, 'all');
	unset($sql, $parameters);

//create the token
	$object = new token;
	$token = $object->create($_SERVER['PHP_SELF']);

//include the header
	$document['title'] = $text['title-fsguard'];
	require_once "resources/header.php";

//show the content
	echo "<div class='action_bar' id='action_bar'>\n";
	echo "	<div class='heading'><b>".escape($text['title-fsguard'])."</b> (".escape(is_array($bans) ? count($bans) : 0).")</div>\n";
	echo "	<div class='actions'>\n";
	echo fsguard_tabs($text, 'fsguard_dashboard.php');
	echo "	</div>\n";
	echo "	<div style='clear: both;'></div>\n";
	echo "</div>\n";
	echo escape($text['description-fsguard'])."\n";
	echo "<br /><br />\n";

//current bans
	echo "<b>".escape($text['label-current_bans'])."</b>\n";
	echo "<table class='list' id='fsguard_bans'>\n";
	echo "<tr class='list-header'>\n";
	echo "	<th>".escape($text['label-ip_address'])."</th>\n";
	echo "	<th>".escape($text['label-jail'])."</th>\n";
	echo "	<th>".escape($text['label-node'])."</th>\n";
	echo "	<th>".escape($text['label-banned_at'])."</th>\n";
	echo "	<th>".escape($text['label-time_left'])."</th>\n";
	echo "	<th>".escape($text['label-failures'])."</th>\n";
	echo "	<th>".escape($text['label-users'])."</th>\n";
	echo "	<th>".escape($text['label-user_agents'])."</th>\n";
	echo "	<th>".escape($text['label-evidence'])."</th>\n";
	echo "	<th class='right'>&nbsp;</th>\n";
	echo "</tr>\n";
	if (is_array($bans) && @sizeof($bans) != 0) {
		foreach ($bans as $row) {
			$matches = array_map('fsguard_mask_token', fsguard_json_list($row['matches']));
			echo "<tr class='list-row'>\n";
			echo "	<td class='fsguard_ip'>".escape($row['ip_address'])."</td>\n";
			//a ban the kernel set does not enforce says so (fsguard records the kernel add's outcome)
			$kernel = (string)($row['kernel_status'] ?? '');
			$not_blocked = substr($kernel, 0, 7) == 'failed:' ? " (".$text['label-kernel_failed'].": ".$kernel.")" : '';
			echo "	<td>".escape($row['jail'].$not_blocked)."</td>\n";
			echo "	<td>".escape($row['hostname'] ?? '')."</td>\n"; //the node that decided (fsguard cluster)
			echo "	<td>".escape(fsguard_date($row['ban_start']))."</td>\n";
			echo "	<td>".escape(fsguard_time_left($row['ban_end'], $now, $text['label-permanent']))."</td>\n";
			echo "	<td>".escape($row['failure_count'])."</td>\n";
			echo "	<td>".escape(implode(', ', fsguard_json_list($row['user_names'])))."</td>\n";
			echo "	<td>".escape(implode(', ', fsguard_json_list($row['user_agents'])))."</td>\n";
			if (count($matches) > 0) {
				echo "	<td><details><summary>".escape(count($matches))." ".escape($text['label-lines'])."</summary>";
				echo "<pre class='fsguard_evidence'>".escape(implode("\n", array_slice($matches, 0, 20)))."</pre></details></td>\n";
			}
			else {
				echo "	<td>&nbsp;</td>\n";
			}
			echo "	<td class='right no-wrap'>\n";
			if (permission_exists('fsguard_unban')) {
				echo "		<form method='post' style='display: inline;'>\n";
				echo "			<input type='hidden' name='action' value='unban'>\n";
				echo "			<input type='hidden' name='ip_address' value='".escape($row['ip_address'])."'>\n";
				echo "			<input type='hidden' name='".escape($token['name'])."' value='".escape($token['hash'])."'>\n";
				echo "			<button type='submit' class='btn btn-default'>".escape($text['button-unban'])."</button>\n";
				echo "		</form>\n";
			}
			if (permission_exists('fsguard_whitelist_add')) {
				echo "		<form method='post' style='display: inline;'>\n";
				echo "			<input type='hidden' name='action' value='whitelist'>\n";
				echo "			<input type='hidden' name='ip_address' value='".escape($row['ip_address'])."'>\n";
				echo "			<input type='hidden' name='".escape($token['name'])."' value='".escape($token['hash'])."'>\n";
				echo "			<button type='submit' class='btn btn-default'>".escape($text['button-whitelist'])."</button>\n";
				echo "		</form>\n";
			}
			echo "	</td>\n";
			echo "</tr>\n";
		}
	}
	else {
		echo "<tr><td colspan='10'>".escape($text['label-no_bans'])."</td></tr>\n";
	}
	echo "</table>\n";
	echo "<br />\n";

//cluster nodes (only when several fsguard nodes share this database)
	if (is_array($nodes) && @sizeof($nodes) != 0) {
		echo "<b>".escape($text['label-nodes'])."</b>\n";
		echo "<table class='list'>\n";
		echo "<tr class='list-header'>\n";
		echo "	<th>".escape($text['label-node'])."</th>\n";
		echo "	<th>".escape($text['label-last_seen'])."</th>\n";
		echo "	<th>".escape($text['label-status'])."</th>\n";
		echo "</tr>\n";
		foreach ($nodes as $row) {
			$age = (int)$row['age'];
			echo "<tr class='list-row'>\n";
			echo "	<td>".escape($row['node_name'])."</td>\n";
			echo "	<td>".escape(fsguard_date($row['last_seen']))." (".escape($age)." s)</td>\n";
			echo "	<td>".escape($age < 30 ? $text['label-node_up'] : $text['label-node_down'])."</td>\n";
			echo "</tr>\n";
		}
		echo "</table>\n";
		echo "<br />\n";
	}

//requests queued for the fsguard service
	if (is_array($actions) && @sizeof($actions) != 0) {
		echo "<b>".escape($text['label-requests'])."</b>\n";
		echo "<table class='list' id='fsguard_actions'>\n";
		echo "<tr class='list-header'>\n";
		echo "	<th>".escape($text['label-action'])."</th>\n";
		echo "	<th>".escape($text['label-ip_address'])."</th>\n";
		echo "	<th>".escape($text['label-status'])."</th>\n";
		echo "	<th>".escape($text['label-result'])."</th>\n";
		echo "	<th>".escape($text['label-user'])."</th>\n";
		echo "</tr>\n";
		foreach ($actions as $row) {
			echo "<tr class='list-row'>\n";
			echo "	<td>".escape($row['action_name'])."</td>\n";
			echo "	<td>".escape($row['action_argument'])."</td>\n";
			echo "	<td>".escape($row['action_status'])."</td>\n";
			echo "	<td>".escape($row['action_result'])."</td>\n";
			echo "	<td>".escape($row['requested_by'])."</td>\n";
			echo "</tr>\n";
		}
		echo "</table>\n";
		echo "<br />\n";
	}

//recent events
	echo "<b>".escape($text['label-recent_events'])."</b>\n";
	echo "<table class='list' id='fsguard_events'>\n";
	echo "<tr class='list-header'>\n";
	echo "	<th>".escape($text['label-event_time'])."</th>\n";
	echo "	<th>".escape($text['label-kind'])."</th>\n";
	echo "	<th>".escape($text['label-ip_address'])."</th>\n";
	echo "	<th>".escape($text['label-user'])."</th>\n";
	echo "	<th>".escape($text['label-number'])."</th>\n";
	echo "	<th>".escape($text['label-user_agents'])."</th>\n";
	echo "	<th>".escape($text['label-profile'])."</th>\n";
	echo "</tr>\n";
	if (is_array($events) && @sizeof($events) != 0) {
		foreach ($events as $row) {
			$user = $row['user_name'].(strlen((string)$row['domain_name']) ? '@'.$row['domain_name'] : '');
			echo "<tr class='list-row'>\n";
			echo "	<td>".escape(fsguard_date($row['event_time']))."</td>\n";
			echo "	<td>".escape($row['event_kind'])."</td>\n";
			echo "	<td class='fsguard_ip'>".escape($row['ip_address'])."</td>\n";
			echo "	<td>".escape($user)."</td>\n";
			echo "	<td>".escape($row['number'])."</td>\n";
			echo "	<td>".escape($row['user_agent'])."</td>\n";
			echo "	<td>".escape($row['profile_name'])."</td>\n";
			echo "</tr>\n";
		}
	}
	else {
		echo "<tr><td colspan='7'>".escape($text['label-none'])."</td></tr>\n";
	}
	echo "</table>\n";
	echo "<br />\n";

//offenders behind whitelisted addresses (never banned: shown so a customer's bad phone can be fixed)
	echo "<b>".escape($text['label-offenders'])."</b>\n";
	echo "<table class='list' id='fsguard_offenders'>\n";
	echo "<tr class='list-header'>\n";
	echo "	<th>".escape($text['label-ip_address'])."</th>\n";
	echo "	<th>".escape($text['label-identity'])."</th>\n";
	echo "	<th>".escape($text['label-kind'])."</th>\n";
	echo "	<th>".escape($text['label-failures'])."</th>\n";
	echo "	<th>".escape($text['label-first_seen'])."</th>\n";
	echo "	<th>".escape($text['label-last_seen'])."</th>\n";
	echo "	<th>".escape($text['label-user_agents'])."</th>\n";
	echo "	<th>".escape($text['label-reason'])."</th>\n";
	echo "</tr>\n";
	if (is_array($offenders) && @sizeof($offenders) != 0) {
		foreach ($offenders as $row) {
			echo "<tr class='list-row'>\n";
			echo "	<td class='fsguard_ip'>".escape($row['ip_address'])."</td>\n";
			echo "	<td>".escape($row['user_identity'])."</td>\n";
			echo "	<td>".escape($row['event_kind'])."</td>\n";
			echo "	<td>".escape($row['failure_count'])."</td>\n";
			echo "	<td>".escape(fsguard_date($row['first_seen']))."</td>\n";
			echo "	<td>".escape(fsguard_date($row['last_seen']))."</td>\n";
			echo "	<td>".escape($row['user_agent'])."</td>\n";
			echo "	<td>".escape($row['whitelist_reason'])."</td>\n";
			echo "</tr>\n";
		}
	}
	else {
		echo "<tr><td colspan='8'>".escape($text['label-none'])."</td></tr>\n";
	}
	echo "</table>\n";

//include the footer
	require_once "resources/footer.php";

?>
