<?php
/*
	Test harness standing in for FusionPBX's resources/require.php: the functions and classes the
	fsguard pages use, against a real PostgreSQL database (PDO, named parameters, like FusionPBX).
	Configured by environment:
	  FSGUARD_TEST_DSN, FSGUARD_TEST_DB_USER, FSGUARD_TEST_DB_PASSWORD   the database
	  FSGUARD_TEST_GROUPS     comma-separated group names of the logged-in user (permissions are
	                          read from v_group_permissions, i.e. the rows the installer wrote)
	  FSGUARD_TEST_SESSION    JSON file holding $_SESSION between requests (tokens, messages)
	  FSGUARD_TEST_LANG       language code (default en-us)
	  FSGUARD_TEST_SQL_LOG    file receiving every statement and its parameter names
*/

	set_include_path(dirname(__DIR__));
	error_reporting(E_ALL);
	ini_set('display_errors', '1');
	date_default_timezone_set('UTC');

//the session, persisted as JSON so a test can GET a form and POST it back with its token
	$GLOBALS['fsguard_session_file'] = getenv('FSGUARD_TEST_SESSION') ?: '';
	$_SESSION = [];
	if ($GLOBALS['fsguard_session_file'] !== '' && is_readable($GLOBALS['fsguard_session_file'])) {
		$_SESSION = json_decode((string)file_get_contents($GLOBALS['fsguard_session_file']), true) ?: [];
	}
	$_SESSION['username'] = $_SESSION['username'] ?? 'admin';
	$_SESSION['user_uuid'] = $_SESSION['user_uuid'] ?? '11111111-2222-4333-8444-555555555555';
	register_shutdown_function(function () {
		if ($GLOBALS['fsguard_session_file'] !== '') {
			file_put_contents($GLOBALS['fsguard_session_file'], json_encode($_SESSION));
		}
	});

	class database {
		private static $pdo = null;

		private function pdo() {
			if (self::$pdo === null) {
				self::$pdo = new PDO(getenv('FSGUARD_TEST_DSN'), getenv('FSGUARD_TEST_DB_USER'), getenv('FSGUARD_TEST_DB_PASSWORD'),
					[PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
			}
			return self::$pdo;
		}

		private function run($sql, $parameters) {
			$parameters = is_array($parameters) ? $parameters : [];
			//FusionPBX's rule: every value is a named parameter, every parameter is used
			preg_match_all('/(?<!:):([a-z_][a-z0-9_]*)/i', $sql, $found);
			$names = array_unique($found[1]);
			sort($names);
			$given = array_keys($parameters);
			sort($given);
			if ($names !== $given) {
				throw new Exception('parameters do not match the statement: '.json_encode([$names, $given]));
			}
			if ($log = getenv('FSGUARD_TEST_SQL_LOG')) {
				file_put_contents($log, json_encode(['sql' => $sql, 'parameters' => $given])."\n", FILE_APPEND);
			}
			$statement = $this->pdo()->prepare($sql);
			foreach ($parameters as $name => $value) {
				$type = is_int($value) ? PDO::PARAM_INT : (is_null($value) ? PDO::PARAM_NULL : PDO::PARAM_STR);
				$statement->bindValue(':'.$name, is_float($value) ? (string)$value : $value, $type);
			}
			$statement->execute();
			return $statement;
		}

		public function select($sql, $parameters = null, $return_type = 'all') {
			$statement = $this->run($sql, $parameters);
			if ($return_type == 'row') {
				return $statement->fetch(PDO::FETCH_ASSOC);
			}
			if ($return_type == 'column') {
				return $statement->fetchColumn();
			}
			return $statement->fetchAll(PDO::FETCH_ASSOC);
		}

		public function execute($sql, $parameters = null) {
			return $this->run($sql, $parameters)->fetchAll(PDO::FETCH_ASSOC);
		}
	}

	class settings {
		public function get($category, $subcategory, $default = null) {
			$database = new database;
			$sql = "select default_setting_value from v_default_settings where default_setting_category = :category ";
			$sql .= "and default_setting_subcategory = :subcategory and default_setting_enabled = true ";
			$value = $database->select($sql, ['category' => $category, 'subcategory' => $subcategory], 'column');
			return ($value === false || $value === null) ? $default : $value;
		}
	}

	class text {
		public function get($language_code = null, $app_path = null) {
			$language_code = $language_code ?: (getenv('FSGUARD_TEST_LANG') ?: 'en-us');
			$text = [];
			include dirname($_SERVER['SCRIPT_FILENAME']).'/app_languages.php';
			$out = [];
			foreach ($text as $key => $values) {
				$out[$key] = $values[$language_code] ?? $values['en-us'];
			}
			return $out;
		}
	}

	class token {
		public function create($key) {
			$hash = bin2hex(random_bytes(16));
			$_SESSION['tokens'][$key][] = $hash;
			return ['name' => 'token_'.substr(md5($key), 0, 8), 'hash' => $hash];
		}

		public function validate($key) {
			$name = 'token_'.substr(md5($key), 0, 8);
			$given = $_POST[$name] ?? '';
			foreach ($_SESSION['tokens'][$key] ?? [] as $hash) {
				if (is_string($given) && hash_equals($hash, $given)) {
					return true;
				}
			}
			return false;
		}
	}

	//FusionPBX's message class (resources/classes/message.php): messages kept in the session per
	//mood as ['message' => [...], 'delay' => [...]], duplicates ignored; html() renders them as calls
	//of the theme's display_message() with the text's < > neutralised, then clears them
	class message {
		public static function add($message, $mood = null, $delay = null) {
			$mood = $mood ?: 'positive';
			$delay = $delay ?: 3000;
			if (!in_array($message, $_SESSION['messages'][$mood]['message'] ?? [], true)) {
				$_SESSION['messages'][$mood]['message'][] = $message;
				$_SESSION['messages'][$mood]['delay'][] = $delay;
			}
		}

		public static function count() {
			return is_array($_SESSION['messages'] ?? null) ? count($_SESSION['messages']) : 0;
		}

		public static function html($clear_messages = true, $spacer = '') {
			$html = '';
			foreach ($_SESSION['messages'] ?? [] as $mood => $message) {
				$mood = in_array($mood, ['positive', 'negative', 'alert'], true) ? $mood : 'positive';
				$parts = array_map(function ($part) {
					return str_replace(['<', '>'], ['&lt;', '&gt;'], (string)$part);
				}, (array)($message['message'] ?? []));
				$text = str_replace(["\r\n", "\n", "\r"], '\\n', addslashes(implode('<br/>', $parts)));
				$delays = (array)($message['delay'] ?? []);
				$delay = count($delays) > 0 ? array_sum($delays) / count($delays) : 0;
				$html .= $spacer."display_message('".$text."', '".$mood."', '".$delay."');\n";
			}
			if ($clear_messages) {
				unset($_SESSION['messages']);
			}
			return $html;
		}
	}

	//FusionPBX's button class (resources/classes/button.php): button::create([...]) gives a
	//<button class='btn btn-<class>'> with an optional Font Awesome icon and a label span, wrapped
	//in a link when 'link' is set. Values are put in as given (callers escape, as in FusionPBX).
	class button {
		public static $collapse = 'hide-md-dn';

		public static function create($array) {
			$attr = "type='".($array['type'] ?? 'button')."' ";
			foreach (['name', 'value', 'id', 'onclick'] as $key) {
				if (!empty($array[$key])) {
					$attr .= $key."=\"".$array[$key]."\" ";
				}
			}
			$title = $array['title'] ?? ($array['label'] ?? '');
			if ($title !== '') {
				$attr .= "alt=\"".$title."\" title=\"".$title."\" ";
			}
			$attr .= "class='btn btn-".($array['class'] ?? 'default')."' ";
			$attr .= "style='margin-left: 2px; margin-right: 2px; ".($array['style'] ?? '')."'";
			$inner = '';
			if (!empty($array['icon'])) {
				$inner .= "<span class='fas fa-".$array['icon']."'></span>";
			}
			if (!empty($array['label'])) {
				$collapse = !empty($array['icon']) && ($array['collapse'] ?? null) !== false
					? ($array['collapse'] ?? self::$collapse) : '';
				$inner .= "<span class='button-label ".$collapse.(!empty($array['icon']) ? ' pad' : '')."'>".$array['label']."</span>";
			}
			$button = "<button ".$attr.">".$inner."</button>";
			if (!empty($array['link'])) {
				$button = "<a href='".$array['link']."' target=\"".($array['target'] ?? '_self')."\">".$button."</a>";
			}
			return $button;
		}
	}

	function permission_exists($permission) {
		static $granted = null;
		if ($granted === null) {
			$groups = array_values(array_filter(explode(',', (string)getenv('FSGUARD_TEST_GROUPS'))));
			$granted = [];
			if (count($groups) > 0) {
				$database = new database;
				$names = [];
				$parameters = [];
				foreach ($groups as $i => $group) {
					$names[] = ':group_'.$i;
					$parameters['group_'.$i] = $group;
				}
				$sql = "select distinct permission_name from v_group_permissions where permission_assigned = 'true' ";
				$sql .= "and group_name in (".implode(', ', $names).") ";
				foreach ($database->select($sql, $parameters, 'all') as $row) {
					$granted[$row['permission_name']] = true;
				}
			}
		}
		return isset($granted[$permission]);
	}

	function escape($string) {
		if (is_array($string)) {
			return false;
		}
		if (isset($string) && strlen((string)$string)) {
			return htmlentities((string)$string, ENT_QUOTES, 'UTF-8');
		}
		return '';
	}

	function is_uuid($value) {
		return is_string($value) && preg_match('/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i', $value) === 1;
	}

	function uuid() {
		$b = random_bytes(16);
		$b[6] = chr(ord($b[6]) & 0x0f | 0x40);
		$b[8] = chr(ord($b[8]) & 0x3f | 0x80);
		return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($b), 4));
	}

	$database = new database;
	$settings = new settings;
	$config = null;
?>
