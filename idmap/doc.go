// Package idmap finds, checks and maps a user's subordinate ids: the uid and
// gid ranges that rootless Docker maps into its user namespace.
//
// # Subordinate ids
//
// An unprivileged user may map only its own uid into a user namespace. To
// give a container the 65536 ids an image expects (root, daemon users,
// nobody = 65534), an administrator grants the user subordinate ids in
// /etc/subuid and /etc/subgid:
//
//	alice:100000:65536
//
// and the setuid helpers newuidmap and newgidmap (shadow-utils) write the
// namespace's uid_map and gid_map on the user's behalf, after checking every
// range against those files. Both files are keyed by the user (its name or
// its uid), never by a group. The subid: line of /etc/nsswitch.conf may send
// shadow to another database (for example sss), which getsubids can query.
//
// Missing or broken ranges are the most common reason rootless Docker fails
// to start, and shadow is strict where it is silent: a CRLF line ending, a
// trailing blank or a fourth field makes it skip the line without a word,
// and a leading zero makes the number octal. This package reads the files
// exactly as shadow 4.20 does, line by line, and says what shadow will do
// with each line ([Parse], [Diag]). It also predicts what RootlessKit v3.3.0
// does, since its own parser reads the same files differently.
//
// # Looking up
//
// [Lookup] returns a user's ranges from a [Source]: [Files] (the files,
// through an fs.FS rooted at "/"), [Getsubids] (shadow's getsubids program),
// or [Auto] (getsubids, then the files), which match RootlessKit's
// --subid-source static, dynamic and auto. It keeps "the user has no ranges"
// ([ErrNoRanges]) apart from "the source could not tell" ([ErrUnknown]), and
// every problem is a [*diag.Finding] with a remedy, such as a free range to
// add:
//
//	u, err := idmap.CurrentUser()
//	...
//	s, err := idmap.Lookup(ctx, idmap.Auto{}, u)
//	for _, f := range diag.List(err) {
//		fmt.Println(f.ID)       // idmap.subids-missing
//		fmt.Println(f.Evidence) // /etc/subuid; /etc/subgid
//		fmt.Println(f.Fix)      // run: sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice
//	}
//
// # Validating
//
// [Validate] checks the result for everything that stops newuidmap, the
// kernel or RootlessKit, or breaks images later: fewer than 65536 ids,
// duplicate or overlapping ranges, ranges shared with another user, the
// user's own id inside a range, more than 340 map lines, ranges past
// 4294967295, ranges a nested namespace does not map, and lines that
// RootlessKit reads differently from newuidmap:
//
//	ns, _ := idmap.CurrentNamespace()
//	for _, f := range idmap.Validate(s, ns) {
//		if f.Severity == diag.Error {
//			return f // an error with Remedy() string
//		}
//	}
//
// [FindHelper] checks that newuidmap and newgidmap are installed and setuid
// root or carry file capabilities.
//
// # Findings
//
// Lookup, Validate and [FindHelper] report problems as [*diag.Finding], the
// shape every rootlessd package shares. Each has a stable ID of the form
// idmap.NAME (the constants IDUserUnnamed ... IDNewgidmapNotSetuid, all
// listed by [IDs]), a severity (diag.Error stops newuidmap, the kernel or
// RootlessKit; diag.Warning breaks some images), a detail, the evidence
// (file:line and the line itself, the path read, the range, or the
// getsubids command lines) and the fix. Most IDs come in pairs, one for
// subuid and one for subgid, such as idmap.subuid-too-small and
// idmap.subgid-too-small. A problem on a line of /etc/subuid that newuidmap
// would skip or misread carries the line's [Diag] code, as in
// idmap.subuid-trailing-cr. Match a class with errors.Is:
//
//	if errors.Is(err, idmap.IDSubuidMissing) || errors.Is(err, idmap.IDSubidsMissing) { ... }
//
// # Maps
//
// [NewMap] (or [Maps]) builds the uid and gid maps that RootlessKit passes to
// newuidmap and newgidmap: "0 uid 1", then the ranges from container id 1, in
// the source's order, with the user's own id cut out. [ParseMap] reads
// /proc/PID/uid_map into the same [Map] type, so the two compare directly,
// and [Map.ToHost] and [Map.ToContainer] translate ids, for example to tell
// who owns a bind-mounted file inside the namespace:
//
//	uidMap, _ := idmap.NewMap(u.UID, s.UIDs)
//	fmt.Println(uidMap.Args()) // [0 1000 1 1 100000 65536]
//	id, ok := uidMap.ToContainer(100032) // 33, true
//
// The package neither logs nor keeps global state; it never writes a file.
package idmap
