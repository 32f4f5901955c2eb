<?php
/*
	fsguard FusionPBX app: shared helpers.
	Syntax checks here only catch typos early; the fsguard service validates every queued request
	with the same rules as its CLI (fsguard/queue.py, fsguard/perimeter/lists.py).
*/

//the actions the GUI may ask for (fs_python/queue.py ACTIONS)
	if (!defined('FSGUARD_ACTIONS')) {
		define('FSGUARD_ACTIONS', ['unban', 'allow', 'deny', 'feeds_update', 'firewall_apply']);
		define('FSGUARD_MAX_LABEL', 120);
	}

//canonical network for an address or CIDR (syntax only), or false with the reason in $error.
//The list's rules (breadth floors, private/CGNAT refusals, the whitelist's total breadth) are
//fsguard's alone: the page queues the request and perimeter/lists.py decides, exactly as for
//`fsguard allow|deny add`, so the two paths can never disagree.
	if (!function_exists('fsguard_canonical_cidr')) {
		function fsguard_canonical_cidr($input, $list_name, &$error) {
			$error = '';
			$input = trim((string)$input);
			if ($input === '' || strlen($input) > 64 || !preg_match('/^[0-9A-Fa-f:.]+(\/[0-9]{1,3})?$/', $input)) {
				$error = 'format';
				return false;
			}
			$parts = explode('/', $input, 2);
			$binary = @inet_pton($parts[0]);
			if ($binary === false) {
				$error = 'format';
				return false;
			}
			//embedded IPv4 in IPv6: only ::ffff:a.b.c.d without a prefix, which is IPv4 (as fsguard reads it)
			if (strlen($binary) == 16 && strpos($parts[0], '.') !== false) {
				if (isset($parts[1]) || stripos($parts[0], '::ffff:') !== 0) {
					$error = 'format';
					return false;
				}
			}
			if (strlen($binary) == 16 && !isset($parts[1]) && substr($binary, 0, 12) === str_repeat("\0", 10)."\xff\xff") {
				$binary = substr($binary, 12);
			}
			$bits = strlen($binary) * 8;
			$prefix = isset($parts[1]) ? (int)$parts[1] : $bits;
			if ($prefix < 0 || $prefix > $bits) {
				$error = 'prefix';
				return false;
			}
			if ($list_name != 'allow' && $list_name != 'deny') {
				$error = 'list';
				return false;
			}
			//zero the host bits: 192.0.2.9/24 is queued as 192.0.2.0/24
			$masked = '';
			for ($i = 0; $i < strlen($binary); $i++) {
				$keep = max(0, min(8, $prefix - $i * 8));
				$mask = $keep == 0 ? 0 : (0xff << (8 - $keep)) & 0xff;
				$masked .= chr(ord($binary[$i]) & $mask);
			}
			return inet_ntop($masked).'/'.$prefix;
		}
	}

//a single address (for unban / whitelist this address), or false
	if (!function_exists('fsguard_ip')) {
		function fsguard_ip($input) {
			$input = trim((string)$input);
			if (strlen($input) > 45 || filter_var($input, FILTER_VALIDATE_IP) === false) {
				return false;
			}
			return inet_ntop(inet_pton($input));
		}
	}

//a label: printable, bounded
	if (!function_exists('fsguard_label')) {
		function fsguard_label($input) {
			$input = trim((string)$input);
			//valid UTF-8 (preg //u fails otherwise), no control characters, bounded in characters
			if (preg_match('//u', $input) !== 1 || preg_match('/[\x00-\x1f\x7f]/', $input) || preg_match_all('/./us', $input) > FSGUARD_MAX_LABEL) {
				return false;
			}
			return $input;
		}
	}

//queue a request for the fsguard service (the only way the GUI reaches root)
	if (!function_exists('fsguard_enqueue')) {
		function fsguard_enqueue($database, $action, $argument = '', $label = '', $expires = null) {
			if (!in_array($action, FSGUARD_ACTIONS, true)) {
				return false;
			}
			$sql = "insert into v_fsguard_actions (fsguard_action_uuid, action_name, action_argument, action_label, ";
			$sql .= "action_status, requested_by, action_expires, insert_date, insert_user) ";
			$sql .= "values (:fsguard_action_uuid, :action_name, :action_argument, :action_label, 'pending', ";
			$sql .= ":requested_by, :action_expires, now(), :insert_user) ";
			$parameters['fsguard_action_uuid'] = uuid();
			$parameters['action_name'] = $action;
			$parameters['action_argument'] = $argument;
			$parameters['action_label'] = $label;
			$parameters['action_expires'] = $expires;
			$parameters['requested_by'] = substr((string)($_SESSION['username'] ?? ''), 0, 64);
			$parameters['insert_user'] = is_uuid($_SESSION['user_uuid'] ?? '') ? $_SESSION['user_uuid'] : null;
			$database->execute($sql, $parameters);
			return $parameters['fsguard_action_uuid'];
		}
	}

//"1h 05m" until an epoch, or the permanent label
	if (!function_exists('fsguard_time_left')) {
		function fsguard_time_left($until, $now, $permanent) {
			if ($until === null || $until === '') {
				return $permanent;
			}
			$left = max(0, (int)round((float)$until - $now));
			$days = intdiv($left, 86400);
			$hours = intdiv($left % 86400, 3600);
			$minutes = intdiv($left % 3600, 60);
			if ($days > 0) {
				return sprintf('%dd %02dh', $days, $hours);
			}
			if ($hours > 0) {
				return sprintf('%dh %02dm', $hours, $minutes);
			}
			return sprintf('%dm %02ds', $minutes, $left % 60);
		}
	}

//epoch as local date and time ('' when unset)
	if (!function_exists('fsguard_date')) {
		function fsguard_date($epoch) {
			if ($epoch === null || $epoch === '') {
				return '';
			}
			return date('Y-m-d H:i:s', (int)$epoch);
		}
	}

//a JSON list column (user names, user agents, matched lines) as an array of strings
	if (!function_exists('fsguard_json_list')) {
		function fsguard_json_list($value) {
			$list = json_decode((string)$value, true);
			if (!is_array($list)) {
				return [];
			}
			return array_values(array_filter($list, 'is_string'));
		}
	}

//evidence lines with fsguard's event token hidden (rows stored before it was masked at the source)
	if (!function_exists('fsguard_mask_token')) {
		function fsguard_mask_token($line) {
			return preg_replace('/\bFSGUARD [A-Za-z0-9]{8,64}(?= |$)/', 'FSGUARD ********', (string)$line);
		}
	}

//the state directory (registrations.json, whitelist.json)
	if (!function_exists('fsguard_state_dir')) {
		function fsguard_state_dir($settings) {
			$dir = '/var/lib/fsguard';
			if (is_object($settings) && method_exists($settings, 'get')) {
				$dir = $settings->get('fsguard', 'state_dir', $dir);
			}
			return rtrim((string)$dir, '/');
		}
	}

//the buttons to the other fsguard pages, for the action bar (FusionPBX's button::create, as its
//own pages link to related pages); the current page's button is marked, not linked
	if (!function_exists('fsguard_tabs')) {
		function fsguard_tabs($text, $current) {
			$tabs = [
				'fsguard_dashboard.php' => ['fsguard_view', $text['title-fsguard'], 'shield-alt'],
				'fsguard_lists.php' => ['fsguard_list_view', $text['title-fsguard_lists'], 'list'],
				'fsguard_feeds.php' => ['fsguard_feed_view', $text['title-fsguard_feeds'], 'rss'],
				'fsguard_registrations.php' => ['fsguard_registration_view', $text['title-fsguard_registrations'], 'address-book'],
			];
			$html = '';
			foreach ($tabs as $page => $tab) {
				if (permission_exists($tab[0])) {
					$button = [
						'type' => 'button',
						'label' => escape($tab[1]),
						'icon' => $tab[2],
						'id' => 'fsguard_tab_'.basename($page, '.php'),
						'collapse' => 'hide-sm-dn',
					];
					if ($page == $current) {
						$button['class'] = 'default fsguard_tab_current';
						$button['style'] = 'font-weight: bold;';
					}
					else {
						$button['link'] = $page;
					}
					$html .= "\t\t".button::create($button)."\n";
				}
			}
			return $html;
		}
	}

?>
