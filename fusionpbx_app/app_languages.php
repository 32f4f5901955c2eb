<?php

$text['button-add']['en-us'] = 'Add';
$text['button-add']['de-de'] = 'Hinzufügen';
$text['button-add']['fr-fr'] = 'Ajouter';
$text['button-add']['es-mx'] = 'Agregar';

$text['button-apply']['en-us'] = 'Apply Firewall Now';
$text['button-apply']['de-de'] = 'Firewall jetzt anwenden';
$text['button-apply']['fr-fr'] = 'Appliquer le pare-feu';
$text['button-apply']['es-mx'] = 'Aplicar cortafuegos ahora';

$text['button-delete']['en-us'] = 'Delete';
$text['button-delete']['de-de'] = 'Löschen';
$text['button-delete']['fr-fr'] = 'Supprimer';
$text['button-delete']['es-mx'] = 'Eliminar';

$text['button-refresh']['en-us'] = 'Refresh Now';
$text['button-refresh']['de-de'] = 'Jetzt aktualisieren';
$text['button-refresh']['fr-fr'] = 'Actualiser maintenant';
$text['button-refresh']['es-mx'] = 'Actualizar ahora';

$text['button-unban']['en-us'] = 'Unban';
$text['button-unban']['de-de'] = 'Entsperren';
$text['button-unban']['fr-fr'] = 'Débannir';
$text['button-unban']['es-mx'] = 'Desbloquear';

$text['button-whitelist']['en-us'] = 'Whitelist';
$text['button-whitelist']['de-de'] = 'Freigeben';
$text['button-whitelist']['fr-fr'] = 'Autoriser';
$text['button-whitelist']['es-mx'] = 'Permitir';

$text['description-fsguard']['en-us'] = 'Addresses banned for SIP scanning or password guessing, with the evidence for each ban. Registered customers, whitelisted addresses and carriers are never banned.';
$text['description-fsguard']['de-de'] = 'Wegen SIP-Scans oder Passwortraten gesperrte Adressen, mit dem Nachweis für jede Sperre. Registrierte Kunden, freigegebene Adressen und Carrier werden nie gesperrt.';
$text['description-fsguard']['fr-fr'] = 'Adresses bannies pour balayage SIP ou devinette de mots de passe, avec la preuve de chaque bannissement. Les clients enregistrés, les adresses autorisées et les opérateurs ne sont jamais bannis.';
$text['description-fsguard']['es-mx'] = 'Direcciones bloqueadas por escaneo SIP o adivinación de contraseñas, con la evidencia de cada bloqueo. Los clientes registrados, las direcciones permitidas y los operadores nunca se bloquean.';

$text['description-fsguard_feeds']['en-us'] = 'Public blacklists refreshed every 4 hours. A failed download keeps the last good list in force.';
$text['description-fsguard_feeds']['de-de'] = 'Öffentliche Blacklists, alle 4 Stunden aktualisiert. Ein fehlgeschlagener Download lässt die letzte gute Liste in Kraft.';
$text['description-fsguard_feeds']['fr-fr'] = 'Listes noires publiques actualisées toutes les 4 heures. Un téléchargement raté laisse la dernière bonne liste en vigueur.';
$text['description-fsguard_feeds']['es-mx'] = 'Listas negras públicas actualizadas cada 4 horas. Una descarga fallida mantiene vigente la última lista buena.';

$text['description-fsguard_lists']['en-us'] = 'Whitelisted addresses are never banned; blacklisted ones are dropped by the firewall. Changes are applied by the fsguard service within a minute.';
$text['description-fsguard_lists']['de-de'] = 'Freigegebene Adressen werden nie gesperrt; gesperrte werden von der Firewall verworfen. Der fsguard-Dienst übernimmt Änderungen innerhalb einer Minute.';
$text['description-fsguard_lists']['fr-fr'] = 'Les adresses autorisées ne sont jamais bannies ; celles de la liste noire sont rejetées par le pare-feu. Le service fsguard applique les changements en moins d\'une minute.';
$text['description-fsguard_lists']['es-mx'] = 'Las direcciones permitidas nunca se bloquean; las de la lista negra las descarta el cortafuegos. El servicio fsguard aplica los cambios en menos de un minuto.';

$text['description-fsguard_registrations']['en-us'] = 'Addresses with a live SIP registration: fsguard never bans them.';
$text['description-fsguard_registrations']['de-de'] = 'Adressen mit aktiver SIP-Registrierung: fsguard sperrt sie nie.';
$text['description-fsguard_registrations']['fr-fr'] = 'Adresses avec un enregistrement SIP actif : fsguard ne les bannit jamais.';
$text['description-fsguard_registrations']['es-mx'] = 'Direcciones con un registro SIP activo: fsguard nunca las bloquea.';

$text['label-action']['en-us'] = 'Action';
$text['label-action']['de-de'] = 'Aktion';
$text['label-action']['fr-fr'] = 'Action';
$text['label-action']['es-mx'] = 'Acción';

$text['label-added']['en-us'] = 'Added';
$text['label-added']['de-de'] = 'Hinzu';
$text['label-added']['fr-fr'] = 'Ajoutées';
$text['label-added']['es-mx'] = 'Agregadas';

$text['label-address']['en-us'] = 'Address or network';
$text['label-address']['de-de'] = 'Adresse oder Netz';
$text['label-address']['fr-fr'] = 'Adresse ou réseau';
$text['label-address']['es-mx'] = 'Dirección o red';

$text['label-banned_at']['en-us'] = 'Banned at';
$text['label-banned_at']['de-de'] = 'Gesperrt am';
$text['label-banned_at']['fr-fr'] = 'Banni le';
$text['label-banned_at']['es-mx'] = 'Bloqueado el';

$text['label-blacklist']['en-us'] = 'Blacklist';
$text['label-blacklist']['de-de'] = 'Blacklist';
$text['label-blacklist']['fr-fr'] = 'Liste noire';
$text['label-blacklist']['es-mx'] = 'Lista negra';

$text['label-current_bans']['en-us'] = 'Current bans';
$text['label-current_bans']['de-de'] = 'Aktuelle Sperren';
$text['label-current_bans']['fr-fr'] = 'Bannissements en cours';
$text['label-current_bans']['es-mx'] = 'Bloqueos actuales';

$text['label-enabled']['en-us'] = 'Enabled';
$text['label-enabled']['de-de'] = 'Aktiv';
$text['label-enabled']['fr-fr'] = 'Activé';
$text['label-enabled']['es-mx'] = 'Habilitado';

$text['label-entries']['en-us'] = 'Entries';
$text['label-entries']['de-de'] = 'Einträge';
$text['label-entries']['fr-fr'] = 'Entrées';
$text['label-entries']['es-mx'] = 'Entradas';

$text['label-error']['en-us'] = 'Error';
$text['label-error']['de-de'] = 'Fehler';
$text['label-error']['fr-fr'] = 'Erreur';
$text['label-error']['es-mx'] = 'Error';

$text['label-kernel_failed']['en-us'] = 'NOT blocked in the kernel';
$text['label-kernel_failed']['de-de'] = 'im Kernel NICHT gesperrt';
$text['label-kernel_failed']['fr-fr'] = 'NON bloqué dans le noyau';
$text['label-kernel_failed']['es-mx'] = 'NO bloqueado en el kernel';

$text['label-recent_requests']['en-us'] = 'Recent requests';
$text['label-recent_requests']['de-de'] = 'Letzte Anfragen';
$text['label-recent_requests']['fr-fr'] = 'Demandes récentes';
$text['label-recent_requests']['es-mx'] = 'Solicitudes recientes';

$text['label-error_format']['en-us'] = 'not an IP address or network';
$text['label-error_format']['de-de'] = 'keine IP-Adresse und kein Netz';
$text['label-error_format']['fr-fr'] = 'ni une adresse IP ni un réseau';
$text['label-error_format']['es-mx'] = 'no es una dirección IP ni una red';

$text['label-error_list']['en-us'] = 'choose a list';
$text['label-error_list']['de-de'] = 'Liste wählen';
$text['label-error_list']['fr-fr'] = 'choisissez une liste';
$text['label-error_list']['es-mx'] = 'elija una lista';

$text['label-error_prefix']['en-us'] = 'prefix length out of range';
$text['label-error_prefix']['de-de'] = 'Präfixlänge außerhalb des Bereichs';
$text['label-error_prefix']['fr-fr'] = 'longueur de préfixe hors limites';
$text['label-error_prefix']['es-mx'] = 'longitud de prefijo fuera de rango';


$text['label-event_time']['en-us'] = 'Time';
$text['label-event_time']['de-de'] = 'Zeit';
$text['label-event_time']['fr-fr'] = 'Heure';
$text['label-event_time']['es-mx'] = 'Hora';

$text['label-evidence']['en-us'] = 'Evidence';
$text['label-evidence']['de-de'] = 'Nachweis';
$text['label-evidence']['fr-fr'] = 'Preuve';
$text['label-evidence']['es-mx'] = 'Evidencia';

$text['label-expires']['en-us'] = 'Expires';
$text['label-expires']['de-de'] = 'Läuft ab';
$text['label-expires']['fr-fr'] = 'Expire';
$text['label-expires']['es-mx'] = 'Vence';

$text['label-expires_days']['en-us'] = 'days';
$text['label-expires_days']['de-de'] = 'Tage';
$text['label-expires_days']['fr-fr'] = 'jours';
$text['label-expires_days']['es-mx'] = 'días';

$text['label-failures']['en-us'] = 'Failures';
$text['label-failures']['de-de'] = 'Fehlversuche';
$text['label-failures']['fr-fr'] = 'Échecs';
$text['label-failures']['es-mx'] = 'Fallos';

$text['label-false']['en-us'] = 'False';
$text['label-false']['de-de'] = 'Nein';
$text['label-false']['fr-fr'] = 'Non';
$text['label-false']['es-mx'] = 'No';

$text['label-feed']['en-us'] = 'Feed';
$text['label-feed']['de-de'] = 'Feed';
$text['label-feed']['fr-fr'] = 'Flux';
$text['label-feed']['es-mx'] = 'Fuente';

$text['label-first_seen']['en-us'] = 'First seen';
$text['label-first_seen']['de-de'] = 'Zuerst gesehen';
$text['label-first_seen']['fr-fr'] = 'Vu la première fois';
$text['label-first_seen']['es-mx'] = 'Visto por primera vez';

$text['label-identity']['en-us'] = 'User';
$text['label-identity']['de-de'] = 'Benutzer';
$text['label-identity']['fr-fr'] = 'Utilisateur';
$text['label-identity']['es-mx'] = 'Usuario';

$text['label-ip_address']['en-us'] = 'IP address';
$text['label-ip_address']['de-de'] = 'IP-Adresse';
$text['label-ip_address']['fr-fr'] = 'Adresse IP';
$text['label-ip_address']['es-mx'] = 'Dirección IP';

$text['label-jail']['en-us'] = 'Jail';
$text['label-jail']['de-de'] = 'Jail';
$text['label-jail']['fr-fr'] = 'Prison';
$text['label-jail']['es-mx'] = 'Jaula';

$text['label-node']['en-us'] = 'Node';
$text['label-node']['de-de'] = 'Knoten';
$text['label-node']['fr-fr'] = 'Nœud';
$text['label-node']['es-mx'] = 'Nodo';

$text['label-nodes']['en-us'] = 'Cluster nodes';
$text['label-nodes']['de-de'] = 'Cluster-Knoten';
$text['label-nodes']['fr-fr'] = 'Nœuds du cluster';
$text['label-nodes']['es-mx'] = 'Nodos del clúster';

$text['label-node_up']['en-us'] = 'up';
$text['label-node_up']['de-de'] = 'aktiv';
$text['label-node_up']['fr-fr'] = 'actif';
$text['label-node_up']['es-mx'] = 'activo';

$text['label-node_down']['en-us'] = 'not seen for 30 s or more';
$text['label-node_down']['de-de'] = 'seit 30 s oder länger nicht gesehen';
$text['label-node_down']['fr-fr'] = 'pas vu depuis 30 s ou plus';
$text['label-node_down']['es-mx'] = 'sin señal desde hace 30 s o más';

$text['label-kind']['en-us'] = 'Kind';
$text['label-kind']['de-de'] = 'Art';
$text['label-kind']['fr-fr'] = 'Type';
$text['label-kind']['es-mx'] = 'Tipo';

$text['label-label']['en-us'] = 'Label';
$text['label-label']['de-de'] = 'Bezeichnung';
$text['label-label']['fr-fr'] = 'Libellé';
$text['label-label']['es-mx'] = 'Etiqueta';

$text['label-last_attempt']['en-us'] = 'Last attempt';
$text['label-last_attempt']['de-de'] = 'Letzter Versuch';
$text['label-last_attempt']['fr-fr'] = 'Dernière tentative';
$text['label-last_attempt']['es-mx'] = 'Último intento';

$text['label-last_seen']['en-us'] = 'Last seen';
$text['label-last_seen']['de-de'] = 'Zuletzt gesehen';
$text['label-last_seen']['fr-fr'] = 'Vu la dernière fois';
$text['label-last_seen']['es-mx'] = 'Visto por última vez';

$text['label-last_success']['en-us'] = 'Last update';
$text['label-last_success']['de-de'] = 'Letzte Aktualisierung';
$text['label-last_success']['fr-fr'] = 'Dernière mise à jour';
$text['label-last_success']['es-mx'] = 'Última actualización';

$text['label-lines']['en-us'] = 'log lines';
$text['label-lines']['de-de'] = 'Logzeilen';
$text['label-lines']['fr-fr'] = 'lignes de journal';
$text['label-lines']['es-mx'] = 'líneas de registro';

$text['label-never']['en-us'] = 'Never';
$text['label-never']['de-de'] = 'Nie';
$text['label-never']['fr-fr'] = 'Jamais';
$text['label-never']['es-mx'] = 'Nunca';

$text['label-no_bans']['en-us'] = 'No address is banned.';
$text['label-no_bans']['de-de'] = 'Keine Adresse ist gesperrt.';
$text['label-no_bans']['fr-fr'] = 'Aucune adresse n\'est bannie.';
$text['label-no_bans']['es-mx'] = 'Ninguna dirección está bloqueada.';

$text['label-none']['en-us'] = 'None';
$text['label-none']['de-de'] = 'Keine';
$text['label-none']['fr-fr'] = 'Aucun';
$text['label-none']['es-mx'] = 'Ninguno';

$text['label-number']['en-us'] = 'Number';
$text['label-number']['de-de'] = 'Nummer';
$text['label-number']['fr-fr'] = 'Numéro';
$text['label-number']['es-mx'] = 'Número';

$text['label-offenders']['en-us'] = 'Failures from whitelisted addresses (not banned)';
$text['label-offenders']['de-de'] = 'Fehlversuche von freigegebenen Adressen (nicht gesperrt)';
$text['label-offenders']['fr-fr'] = 'Échecs depuis des adresses autorisées (non bannies)';
$text['label-offenders']['es-mx'] = 'Fallos desde direcciones permitidas (no bloqueadas)';

$text['label-permanent']['en-us'] = 'permanent';
$text['label-permanent']['de-de'] = 'dauerhaft';
$text['label-permanent']['fr-fr'] = 'permanent';
$text['label-permanent']['es-mx'] = 'permanente';

$text['label-profile']['en-us'] = 'Profile';
$text['label-profile']['de-de'] = 'Profil';
$text['label-profile']['fr-fr'] = 'Profil';
$text['label-profile']['es-mx'] = 'Perfil';

$text['label-reason']['en-us'] = 'Whitelisted because';
$text['label-reason']['de-de'] = 'Freigegeben weil';
$text['label-reason']['fr-fr'] = 'Autorisée car';
$text['label-reason']['es-mx'] = 'Permitida porque';

$text['label-recent_events']['en-us'] = 'Recent events';
$text['label-recent_events']['de-de'] = 'Letzte Ereignisse';
$text['label-recent_events']['fr-fr'] = 'Événements récents';
$text['label-recent_events']['es-mx'] = 'Eventos recientes';

$text['label-rejected']['en-us'] = 'Rejected';
$text['label-rejected']['de-de'] = 'Abgelehnt';
$text['label-rejected']['fr-fr'] = 'Rejetées';
$text['label-rejected']['es-mx'] = 'Rechazadas';

$text['label-removed']['en-us'] = 'Removed';
$text['label-removed']['de-de'] = 'Entfernt';
$text['label-removed']['fr-fr'] = 'Retirées';
$text['label-removed']['es-mx'] = 'Quitadas';

$text['label-requests']['en-us'] = 'Requests to the fsguard service';
$text['label-requests']['de-de'] = 'Aufträge an den fsguard-Dienst';
$text['label-requests']['fr-fr'] = 'Demandes au service fsguard';
$text['label-requests']['es-mx'] = 'Solicitudes al servicio fsguard';

$text['label-result']['en-us'] = 'Result';
$text['label-result']['de-de'] = 'Ergebnis';
$text['label-result']['fr-fr'] = 'Résultat';
$text['label-result']['es-mx'] = 'Resultado';

$text['label-snapshot_written']['en-us'] = 'Snapshot written';
$text['label-snapshot_written']['de-de'] = 'Stand vom';
$text['label-snapshot_written']['fr-fr'] = 'Instantané écrit le';
$text['label-snapshot_written']['es-mx'] = 'Instantánea escrita el';

$text['label-status']['en-us'] = 'Status';
$text['label-status']['de-de'] = 'Status';
$text['label-status']['fr-fr'] = 'État';
$text['label-status']['es-mx'] = 'Estado';

$text['label-time_left']['en-us'] = 'Time left';
$text['label-time_left']['de-de'] = 'Restzeit';
$text['label-time_left']['fr-fr'] = 'Temps restant';
$text['label-time_left']['es-mx'] = 'Tiempo restante';

$text['label-transport']['en-us'] = 'Transport';
$text['label-transport']['de-de'] = 'Transport';
$text['label-transport']['fr-fr'] = 'Transport';
$text['label-transport']['es-mx'] = 'Transporte';

$text['label-true']['en-us'] = 'True';
$text['label-true']['de-de'] = 'Ja';
$text['label-true']['fr-fr'] = 'Oui';
$text['label-true']['es-mx'] = 'Sí';

$text['label-user']['en-us'] = 'User';
$text['label-user']['de-de'] = 'Benutzer';
$text['label-user']['fr-fr'] = 'Utilisateur';
$text['label-user']['es-mx'] = 'Usuario';

$text['label-user_agents']['en-us'] = 'User agent';
$text['label-user_agents']['de-de'] = 'User-Agent';
$text['label-user_agents']['fr-fr'] = 'Agent utilisateur';
$text['label-user_agents']['es-mx'] = 'Agente de usuario';

$text['label-users']['en-us'] = 'User names tried';
$text['label-users']['de-de'] = 'Versuchte Benutzernamen';
$text['label-users']['fr-fr'] = 'Noms d\'utilisateur essayés';
$text['label-users']['es-mx'] = 'Usuarios intentados';

$text['label-whitelist']['en-us'] = 'Whitelist';
$text['label-whitelist']['de-de'] = 'Whitelist';
$text['label-whitelist']['fr-fr'] = 'Liste blanche';
$text['label-whitelist']['es-mx'] = 'Lista blanca';

$text['label-whitelisted_from_dashboard']['en-us'] = 'whitelisted from the dashboard';
$text['label-whitelisted_from_dashboard']['de-de'] = 'aus der Übersicht freigegeben';
$text['label-whitelisted_from_dashboard']['fr-fr'] = 'autorisée depuis le tableau de bord';
$text['label-whitelisted_from_dashboard']['es-mx'] = 'permitida desde el panel';

$text['message-deleted']['en-us'] = 'Deleted: the firewall is refreshed within a minute.';
$text['message-deleted']['de-de'] = 'Gelöscht: die Firewall wird binnen einer Minute aktualisiert.';
$text['message-deleted']['fr-fr'] = 'Supprimé : le pare-feu est actualisé en moins d\'une minute.';
$text['message-deleted']['es-mx'] = 'Eliminado: el cortafuegos se actualiza en menos de un minuto.';

$text['message-invalid_address']['en-us'] = 'Invalid address';
$text['message-invalid_address']['de-de'] = 'Ungültige Adresse';
$text['message-invalid_address']['fr-fr'] = 'Adresse invalide';
$text['message-invalid_address']['es-mx'] = 'Dirección no válida';

$text['message-invalid_expires']['en-us'] = 'Expiry must be a whole number of days (1-9999) or empty';
$text['message-invalid_expires']['de-de'] = 'Ablauf muss eine ganze Zahl von Tagen (1-9999) oder leer sein';
$text['message-invalid_expires']['fr-fr'] = 'L\'expiration doit être un nombre entier de jours (1-9999) ou vide';
$text['message-invalid_expires']['es-mx'] = 'El vencimiento debe ser un número entero de días (1-9999) o vacío';

$text['message-invalid_label']['en-us'] = 'Label: at most 120 printable characters';
$text['message-invalid_label']['de-de'] = 'Bezeichnung: höchstens 120 druckbare Zeichen';
$text['message-invalid_label']['fr-fr'] = 'Libellé : 120 caractères imprimables au plus';
$text['message-invalid_label']['es-mx'] = 'Etiqueta: como máximo 120 caracteres imprimibles';

$text['message-invalid_list']['en-us'] = 'Choose the whitelist or the blacklist';
$text['message-invalid_list']['de-de'] = 'Whitelist oder Blacklist wählen';
$text['message-invalid_list']['fr-fr'] = 'Choisissez la liste blanche ou la liste noire';
$text['message-invalid_list']['es-mx'] = 'Elija la lista blanca o la lista negra';

$text['message-invalid_token']['en-us'] = 'Invalid token: the form expired, please try again';
$text['message-invalid_token']['de-de'] = 'Ungültiges Token: das Formular ist abgelaufen, bitte erneut versuchen';
$text['message-invalid_token']['fr-fr'] = 'Jeton invalide : le formulaire a expiré, réessayez';
$text['message-invalid_token']['es-mx'] = 'Token no válido: el formulario caducó, inténtelo de nuevo';

$text['message-no_snapshot']['en-us'] = 'No registrations snapshot yet: is fsguard\'s monitor running inside FreeSWITCH?';
$text['message-no_snapshot']['de-de'] = 'Noch kein Registrierungsstand: läuft der fsguard-Monitor in FreeSWITCH?';
$text['message-no_snapshot']['fr-fr'] = 'Pas encore d\'instantané des enregistrements : le moniteur fsguard tourne-t-il dans FreeSWITCH ?';
$text['message-no_snapshot']['es-mx'] = 'Aún no hay instantánea de registros: ¿se ejecuta el monitor de fsguard en FreeSWITCH?';

$text['message-queued']['en-us'] = 'Request queued: the fsguard service carries it out within a minute.';
$text['message-queued']['de-de'] = 'Auftrag eingereiht: der fsguard-Dienst führt ihn binnen einer Minute aus.';
$text['message-queued']['fr-fr'] = 'Demande en file : le service fsguard l\'exécute en moins d\'une minute.';
$text['message-queued']['es-mx'] = 'Solicitud en cola: el servicio fsguard la ejecuta en menos de un minuto.';

$text['message-saved']['en-us'] = 'Saved: the firewall is refreshed within a minute.';
$text['message-saved']['de-de'] = 'Gespeichert: die Firewall wird binnen einer Minute aktualisiert.';
$text['message-saved']['fr-fr'] = 'Enregistré : le pare-feu est actualisé en moins d\'une minute.';
$text['message-saved']['es-mx'] = 'Guardado: el cortafuegos se actualiza en menos de un minuto.';

$text['title-fsguard']['en-us'] = 'SIP Guard';
$text['title-fsguard']['de-de'] = 'SIP-Schutz';
$text['title-fsguard']['fr-fr'] = 'Protection SIP';
$text['title-fsguard']['es-mx'] = 'Protección SIP';

$text['title-fsguard_feeds']['en-us'] = 'Blacklist Feeds';
$text['title-fsguard_feeds']['de-de'] = 'Blacklist-Feeds';
$text['title-fsguard_feeds']['fr-fr'] = 'Flux de liste noire';
$text['title-fsguard_feeds']['es-mx'] = 'Fuentes de lista negra';

$text['title-fsguard_lists']['en-us'] = 'Whitelist and Blacklist';
$text['title-fsguard_lists']['de-de'] = 'Whitelist und Blacklist';
$text['title-fsguard_lists']['fr-fr'] = 'Liste blanche et liste noire';
$text['title-fsguard_lists']['es-mx'] = 'Lista blanca y lista negra';

$text['title-fsguard_registrations']['en-us'] = 'Registered Addresses';
$text['title-fsguard_registrations']['de-de'] = 'Registrierte Adressen';
$text['title-fsguard_registrations']['fr-fr'] = 'Adresses enregistrées';
$text['title-fsguard_registrations']['es-mx'] = 'Direcciones registradas';

?>
