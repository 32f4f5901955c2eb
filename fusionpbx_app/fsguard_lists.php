<?php
/*
	fsguard: the admin whitelist ("allow") and blacklist ("deny").
	An addition is queued for the fsguard service, which validates it with the CLI's rules and
	stores it (the outcome shows under "Recent requests"); a deletion queues a firewall refresh.
*/

//includes files
	require_once dirname(__DIR__, 2) . "/resources/require.php";
	require_once "resources/check_auth.php";
	require_once __DIR__ . "/resources/functions.php";

//check permissions
	if (!permission_exists('fsguard_list_view')) {
		echo "access denied";
		exit;
	}

//add multi-lingual support
	$language = new text;
	$text = $language->get();

//the form's values, kept when the input is refused
	$list_name = 'allow';
	$cidr = '';
	$label = '';
	$expires_days = '';
	$errors = [];

//process a change
	if ($_SERVER['REQUEST_METHOD'] == 'POST') {
		//only editors change lists; applying the firewall has its own permission
			$action = $_POST['action'] ?? '';
			$permission = $action == 'apply' ? 'fsguard_firewall_apply' : 'fsguard_list_edit';
			if (!permission_exists($permission)) {
				echo "access denied";
				exit;
			}

		//validate the token
			$token = new token;
			if (!$token->validate($_SERVER['PHP_SELF'])) {
				message::add($text['message-invalid_token'], 'negative');
				header('Location: fsguard_lists.php');
				exit;
			}

		//rebuild the whitelist snapshot and reload the firewall now
			if ($action == 'apply') {
				fsguard_enqueue($database, 'firewall_apply');
				message::add($text['message-queued']);
				header('Location: fsguard_lists.php');
				exit;
			}

		//add an entry
			if ($action == 'add') {
				$list_name = in_array($_POST['list_name'] ?? '', ['allow', 'deny'], true) ? $_POST['list_name'] : '';
				$cidr = (string)($_POST['cidr'] ?? '');
				$label = (string)($_POST['label'] ?? '');
				$expires_days = trim((string)($_POST['expires_days'] ?? ''));
				if ($list_name == '') {
					$errors[] = $text['message-invalid_list'];
				}
				$canonical = fsguard_canonical_cidr($cidr, $list_name, $error);
				if ($canonical === false) {
					$errors[] = $text['message-invalid_address'].' ('.$text['label-error_'.$error].')';
				}
				$clean_label = fsguard_label($label);
				if ($clean_label === false) {
					$errors[] = $text['message-invalid_label'];
				}
				$expires = null;
				if ($expires_days !== '') {
					if (!preg_match('/^[0-9]{1,4}$/', $expires_days) || (int)$expires_days < 1) {
						$errors[] = $text['message-invalid_expires'];
					}
					else {
						$expires = time() + (int)$expires_days * 86400;
					}
				}
				if (count($errors) == 0) {
					//the fsguard service validates and stores it with the CLI's rules (fsguard allow|deny add),
					//then refreshes the whitelist snapshot and the firewall; a refusal shows below
					fsguard_enqueue($database, $list_name, $canonical, $clean_label, $expires);
					message::add($text['message-queued']);
					header('Location: fsguard_lists.php');
					exit;
				}
			}

		//delete the checked entries
			if ($action == 'delete') {
				$deleted = 0;
				foreach ((array)($_POST['entries'] ?? []) as $uuid) {
					if (is_string($uuid) && is_uuid($uuid)) {
						$sql = "delete from v_fsguard_list_entries where fsguard_list_entry_uuid = :fsguard_list_entry_uuid ";
						$parameters['fsguard_list_entry_uuid'] = $uuid;
						$database->execute($sql, $parameters);
						unset($sql, $parameters);
						$deleted++;
					}
				}
				if ($deleted > 0) {
					fsguard_enqueue($database, 'firewall_apply');
					message::add($text['message-deleted']);
				}
				header('Location: fsguard_lists.php');
				exit;
			}
	}

//get the entries
	$sql = "select * from v_fsguard_list_entries ";
	$sql .= "order by list_name, cidr ";
	$rows = $database->select($sql, null, 'all');
	unset($sql);
	$lists = ['allow' => [], 'deny' => []];
	if (is_array($rows)) {
		foreach ($rows as $row) {
			if (isset($lists[$row['list_name']])) {
				$lists[$row['list_name']][] = $row;
			}
		}
	}

//create the token
	$object = new token;
	$token = $object->create($_SERVER['PHP_SELF']);

//the refused input, said plainly in FusionPBX's message area (the form below keeps it to fix)
	foreach ($errors as $error) {
		message::add($error, 'negative', 8000);
	}

//include the header
	$document['title'] = $text['title-fsguard_lists'];
	require_once "resources/header.php";

//show the content
	echo "<div class='action_bar' id='action_bar'>\n";
	echo "	<div class='heading'><b>".escape($text['title-fsguard_lists'])."</b></div>\n";
	echo "	<div class='actions'>\n";
	if (permission_exists('fsguard_firewall_apply')) {
		echo "		<form method='post' style='display: inline;'>\n";
		echo "			<input type='hidden' name='action' value='apply'>\n";
		echo "			<input type='hidden' name='".escape($token['name'])."' value='".escape($token['hash'])."'>\n";
		echo "			".button::create(['type' => 'submit', 'label' => escape($text['button-apply']), 'icon' => 'fire-alt', 'id' => 'btn_apply'])."\n";
		echo "		</form>\n";
	}
	echo fsguard_tabs($text, 'fsguard_lists.php');
	echo "	</div>\n";
	echo "	<div style='clear: both;'></div>\n";
	echo "</div>\n";
	echo escape($text['description-fsguard_lists'])."\n";
	echo "<br /><br />\n";

//add form
	if (permission_exists('fsguard_list_edit')) {
		echo "<form method='post' id='fsguard_add'>\n";
		echo "<input type='hidden' name='action' value='add'>\n";
		echo "<input type='hidden' name='".escape($token['name'])."' value='".escape($token['hash'])."'>\n";
		echo "<select class='formfld' name='list_name'>\n";
		foreach (['allow' => $text['label-whitelist'], 'deny' => $text['label-blacklist']] as $value => $title) {
			$selected = $value == $list_name ? " selected='selected'" : '';
			echo "	<option value='".escape($value)."'".$selected.">".escape($title)."</option>\n";
		}
		echo "</select>\n";
		echo "<input class='formfld' type='text' name='cidr' maxlength='64' placeholder='".escape($text['label-address'])."' value='".escape($cidr)."'>\n";
		echo "<input class='formfld' type='text' name='label' maxlength='120' placeholder='".escape($text['label-label'])."' value='".escape($label)."'>\n";
		echo "<input class='formfld' type='text' name='expires_days' maxlength='4' size='6' placeholder='".escape($text['label-expires_days'])."' value='".escape($expires_days)."'>\n";
		echo "<button type='submit' class='btn btn-default'>".escape($text['button-add'])."</button>\n";
		echo "</form>\n";
		echo "<br />\n";
	}

//the two lists
	foreach (['allow' => $text['label-whitelist'], 'deny' => $text['label-blacklist']] as $name => $title) {
		echo "<form method='post'>\n";
		echo "<input type='hidden' name='action' value='delete'>\n";
		echo "<input type='hidden' name='".escape($token['name'])."' value='".escape($token['hash'])."'>\n";
		echo "<b>".escape($title)."</b> (".escape(count($lists[$name])).")\n";
		echo "<table class='list' id='fsguard_list_".escape($name)."'>\n";
		echo "<tr class='list-header'>\n";
		echo "	<th class='checkbox'>&nbsp;</th>\n";
		echo "	<th>".escape($text['label-address'])."</th>\n";
		echo "	<th>".escape($text['label-label'])."</th>\n";
		echo "	<th>".escape($text['label-expires'])."</th>\n";
		echo "	<th>".escape($text['label-enabled'])."</th>\n";
		echo "</tr>\n";
		foreach ($lists[$name] as $row) {
			$enabled = in_array($row['entry_enabled'], [true, 1, '1', 't', 'true'], true);
			echo "<tr class='list-row'>\n";
			echo "	<td class='checkbox'>";
			if (permission_exists('fsguard_list_edit')) {
				echo "<input type='checkbox' name='entries[]' value='".escape($row['fsguard_list_entry_uuid'])."'>";
			}
			echo "</td>\n";
			echo "	<td class='fsguard_ip'>".escape($row['cidr'])."</td>\n";
			echo "	<td>".escape($row['label'])."</td>\n";
			echo "	<td>".escape($row['expires'] === null ? $text['label-never'] : fsguard_date($row['expires']))."</td>\n";
			echo "	<td>".escape($enabled ? $text['label-true'] : $text['label-false'])."</td>\n";
			echo "</tr>\n";
		}
		echo "</table>\n";
		if (permission_exists('fsguard_list_edit') && count($lists[$name]) > 0) {
			echo "<button type='submit' class='btn btn-default'>".escape($text['button-delete'])."</button>\n";
		}
		echo "</form>\n";
		echo "<br />\n";
	}

//the outcome of recent list requests (refusals say why, as fsguard gave it)
	$sql = "select action_name, action_argument, action_status, action_result, requested_by, insert_date ";
	$sql .= "from v_fsguard_actions where action_name in ('allow', 'deny') ";
	$sql .= "order by insert_date desc limit 10 ";
	$requests = $database->select($sql, null, 'all');
	unset($sql);
	if (is_array($requests) && count($requests) > 0) {
		echo "<b>".escape($text['label-recent_requests'])."</b>\n";
		echo "<table class='list' id='fsguard_list_requests'>\n";
		foreach ($requests as $row) {
			echo "<tr class='list-row'>\n";
			echo "	<td>".escape($row['action_name'])."</td>\n";
			echo "	<td class='fsguard_ip'>".escape($row['action_argument'])."</td>\n";
			echo "	<td class='fsguard_status'>".escape($row['action_status'])."</td>\n";
			echo "	<td>".escape($row['action_result'])."</td>\n";
			echo "	<td>".escape($row['requested_by'])."</td>\n";
			echo "</tr>\n";
		}
		echo "</table>\n";
		echo "<br />\n";
	}

//include the footer
	require_once "resources/footer.php";

?>
