package idmap

import (
	"slices"

	"github.com/rootlessd/rootlessd/diag"
)

// The IDs of the findings that [Lookup], [Validate] and [FindHelper]
// report. They are stable. Most come in pairs, one for subordinate uids
// (/etc/subuid, newuidmap) and one for gids (/etc/subgid, newgidmap). Match
// one with errors.Is(err, idmap.IDSubuidMissing).
const (
	// IDUserUnnamed: the uid has no passwd entry, so newuidmap stops with
	// "Cannot determine your user name".
	IDUserUnnamed diag.ID = "idmap.user-unnamed"
	// IDSubidNSS: the subid: line of /etc/nsswitch.conf names another
	// database than the files RootlessKit was asked to read.
	IDSubidNSS diag.ID = "idmap.subid-nss"
	// IDGetsubidsMissing: getsubids is not installed (wraps the cause).
	IDGetsubidsMissing diag.ID = "idmap.getsubids-missing"
	// IDGetsubidsFailed: getsubids failed for a reason it told (wraps the
	// cause).
	IDGetsubidsFailed diag.ID = "idmap.getsubids-failed"

	// IDSubidsMissing: no ranges of either kind ([ErrNoRanges]).
	IDSubidsMissing diag.ID = "idmap.subids-missing"
	// IDSubuidMissing and IDSubgidMissing: no ranges of that kind
	// ([ErrNoRanges]).
	IDSubuidMissing diag.ID = "idmap.subuid-missing"
	IDSubgidMissing diag.ID = "idmap.subgid-missing"
	// IDSubuidUnknown and IDSubgidUnknown: getsubids could not tell
	// ([ErrUnknown]).
	IDSubuidUnknown diag.ID = "idmap.subuid-unknown"
	IDSubgidUnknown diag.ID = "idmap.subgid-unknown"
	// IDSubuidUnreadable and IDSubgidUnreadable: the file cannot be read
	// (wraps the cause).
	IDSubuidUnreadable diag.ID = "idmap.subuid-unreadable"
	IDSubgidUnreadable diag.ID = "idmap.subgid-unreadable"

	// IDSubuidTooSmall and IDSubgidTooSmall: fewer than 65536 ids.
	IDSubuidTooSmall diag.ID = "idmap.subuid-too-small"
	IDSubgidTooSmall diag.ID = "idmap.subgid-too-small"
	// IDSubuidZeroCount and IDSubgidZeroCount: a range of 0 ids (a line
	// with count 0, or such a range from getsubids).
	IDSubuidZeroCount diag.ID = "idmap.subuid-zero-count"
	IDSubgidZeroCount diag.ID = "idmap.subgid-zero-count"
	// IDSubuidOverflow and IDSubgidOverflow: a range that ends past
	// 4294967295.
	IDSubuidOverflow diag.ID = "idmap.subuid-overflow"
	IDSubgidOverflow diag.ID = "idmap.subgid-overflow"
	// IDSubuidDuplicate and IDSubgidDuplicate: the same range twice in the
	// user's ranges.
	IDSubuidDuplicate diag.ID = "idmap.subuid-duplicate"
	IDSubgidDuplicate diag.ID = "idmap.subgid-duplicate"
	// IDSubuidOverlap and IDSubgidOverlap: two of the user's ranges
	// overlap.
	IDSubuidOverlap diag.ID = "idmap.subuid-overlap"
	IDSubgidOverlap diag.ID = "idmap.subgid-overlap"
	// IDSubuidShared and IDSubgidShared: another user's range holds some of
	// the user's ids too.
	IDSubuidShared diag.ID = "idmap.subuid-shared"
	IDSubgidShared diag.ID = "idmap.subgid-shared"
	// IDSubuidContainsSelf and IDSubgidContainsSelf: the user's own uid
	// (gid) lies in one of its ranges.
	IDSubuidContainsSelf diag.ID = "idmap.subuid-contains-self"
	IDSubgidContainsSelf diag.ID = "idmap.subgid-contains-self"
	// IDSubuidTooManyExtents and IDSubgidTooManyExtents: the map would need
	// more than 340 lines.
	IDSubuidTooManyExtents diag.ID = "idmap.subuid-too-many-extents"
	IDSubgidTooManyExtents diag.ID = "idmap.subgid-too-many-extents"
	// IDSubuidUnmapped and IDSubgidUnmapped: ids that the current user
	// namespace does not map, so a nested one cannot map them.
	IDSubuidUnmapped diag.ID = "idmap.subuid-unmapped"
	IDSubgidUnmapped diag.ID = "idmap.subgid-unmapped"
	// IDSubuidRootlessKit and IDSubgidRootlessKit: RootlessKit's files
	// source reads the file differently from newuidmap (newgidmap).
	IDSubuidRootlessKit diag.ID = "idmap.subuid-rootlesskit"
	IDSubgidRootlessKit diag.ID = "idmap.subgid-rootlesskit"

	// The line problems of /etc/subuid and /etc/subgid that concern the
	// user, one ID per [Diag] code of severity Warning or Error (the
	// code is the ID's last part; zero-count and overflow are above).
	IDSubuidTrailingCR     diag.ID = "idmap.subuid-trailing-cr"
	IDSubgidTrailingCR     diag.ID = "idmap.subgid-trailing-cr"
	IDSubuidTrailingSpace  diag.ID = "idmap.subuid-trailing-space"
	IDSubgidTrailingSpace  diag.ID = "idmap.subgid-trailing-space"
	IDSubuidFields         diag.ID = "idmap.subuid-fields"
	IDSubgidFields         diag.ID = "idmap.subgid-fields"
	IDSubuidEmptyField     diag.ID = "idmap.subuid-empty-field"
	IDSubgidEmptyField     diag.ID = "idmap.subgid-empty-field"
	IDSubuidBadNumber      diag.ID = "idmap.subuid-bad-number"
	IDSubgidBadNumber      diag.ID = "idmap.subgid-bad-number"
	IDSubuidOutOfRange     diag.ID = "idmap.subuid-out-of-range"
	IDSubgidOutOfRange     diag.ID = "idmap.subgid-out-of-range"
	IDSubuidOctal          diag.ID = "idmap.subuid-octal"
	IDSubgidOctal          diag.ID = "idmap.subgid-octal"
	IDSubuidHex            diag.ID = "idmap.subuid-hex"
	IDSubgidHex            diag.ID = "idmap.subgid-hex"
	IDSubuidSign           diag.ID = "idmap.subuid-sign"
	IDSubgidSign           diag.ID = "idmap.subgid-sign"
	IDSubuidLeadingSpace   diag.ID = "idmap.subuid-leading-space"
	IDSubgidLeadingSpace   diag.ID = "idmap.subgid-leading-space"
	IDSubuidOwnerSpace     diag.ID = "idmap.subuid-owner-space"
	IDSubgidOwnerSpace     diag.ID = "idmap.subgid-owner-space"
	IDSubuidNIS            diag.ID = "idmap.subuid-nis"
	IDSubgidNIS            diag.ID = "idmap.subgid-nis"
	IDSubuidTooLong        diag.ID = "idmap.subuid-too-long"
	IDSubgidTooLong        diag.ID = "idmap.subgid-too-long"
	IDSubuidNUL            diag.ID = "idmap.subuid-nul"
	IDSubgidNUL            diag.ID = "idmap.subgid-nul"
	IDSubuidNoFinalNewline diag.ID = "idmap.subuid-no-final-newline"
	IDSubgidNoFinalNewline diag.ID = "idmap.subgid-no-final-newline"

	// IDNewuidmapMissing and IDNewgidmapMissing: [FindHelper] did not find
	// the program (wraps the cause).
	IDNewuidmapMissing diag.ID = "idmap.newuidmap-missing"
	IDNewgidmapMissing diag.ID = "idmap.newgidmap-missing"
	// IDNewuidmapNotSetuid and IDNewgidmapNotSetuid: the program is neither
	// setuid root nor has the file capability, or is on a nosuid mount.
	IDNewuidmapNotSetuid diag.ID = "idmap.newuidmap-not-setuid"
	IDNewgidmapNotSetuid diag.ID = "idmap.newgidmap-not-setuid"
)

var allIDs = []diag.ID{
	IDUserUnnamed, IDSubidNSS, IDGetsubidsMissing, IDGetsubidsFailed,
	IDSubidsMissing, IDSubuidMissing, IDSubgidMissing,
	IDSubuidUnknown, IDSubgidUnknown, IDSubuidUnreadable, IDSubgidUnreadable,
	IDSubuidTooSmall, IDSubgidTooSmall, IDSubuidZeroCount, IDSubgidZeroCount,
	IDSubuidOverflow, IDSubgidOverflow, IDSubuidDuplicate, IDSubgidDuplicate,
	IDSubuidOverlap, IDSubgidOverlap, IDSubuidShared, IDSubgidShared,
	IDSubuidContainsSelf, IDSubgidContainsSelf, IDSubuidTooManyExtents, IDSubgidTooManyExtents,
	IDSubuidUnmapped, IDSubgidUnmapped, IDSubuidRootlessKit, IDSubgidRootlessKit,
	IDSubuidTrailingCR, IDSubgidTrailingCR, IDSubuidTrailingSpace, IDSubgidTrailingSpace,
	IDSubuidFields, IDSubgidFields, IDSubuidEmptyField, IDSubgidEmptyField,
	IDSubuidBadNumber, IDSubgidBadNumber, IDSubuidOutOfRange, IDSubgidOutOfRange,
	IDSubuidOctal, IDSubgidOctal, IDSubuidHex, IDSubgidHex, IDSubuidSign, IDSubgidSign,
	IDSubuidLeadingSpace, IDSubgidLeadingSpace, IDSubuidOwnerSpace, IDSubgidOwnerSpace,
	IDSubuidNIS, IDSubgidNIS, IDSubuidTooLong, IDSubgidTooLong, IDSubuidNUL, IDSubgidNUL,
	IDSubuidNoFinalNewline, IDSubgidNoFinalNewline,
	IDNewuidmapMissing, IDNewgidmapMissing, IDNewuidmapNotSetuid, IDNewgidmapNotSetuid,
}

// IDs returns every ID a finding of this package can carry, in the order
// they are declared. The list is complete: a test fails when an ID is
// declared or used without being in it.
func IDs() []diag.ID { return slices.Clone(allIDs) }

// kindIDs are the IDs of the findings about one kind of subordinate ids.
type kindIDs struct {
	missing, unknown, unreadable             diag.ID
	tooSmall, zeroCount, overflow            diag.ID
	duplicate, overlap, shared, containsSelf diag.ID
	tooManyExtents, unmapped, rootlessKit    diag.ID
	helperMissing, helperNotSetuid           diag.ID
}

var kindIDTable = [...]kindIDs{
	uidKind: {IDSubuidMissing, IDSubuidUnknown, IDSubuidUnreadable,
		IDSubuidTooSmall, IDSubuidZeroCount, IDSubuidOverflow,
		IDSubuidDuplicate, IDSubuidOverlap, IDSubuidShared, IDSubuidContainsSelf,
		IDSubuidTooManyExtents, IDSubuidUnmapped, IDSubuidRootlessKit,
		IDNewuidmapMissing, IDNewuidmapNotSetuid},
	gidKind: {IDSubgidMissing, IDSubgidUnknown, IDSubgidUnreadable,
		IDSubgidTooSmall, IDSubgidZeroCount, IDSubgidOverflow,
		IDSubgidDuplicate, IDSubgidOverlap, IDSubgidShared, IDSubgidContainsSelf,
		IDSubgidTooManyExtents, IDSubgidUnmapped, IDSubgidRootlessKit,
		IDNewgidmapMissing, IDNewgidmapNotSetuid},
}

func (k kind) ids() kindIDs { return kindIDTable[k] }

// lineIDs maps the code of a line [Diag] of severity Warning or Error in
// /etc/subuid or /etc/subgid to the IDs of its finding, by kind.
var lineIDs = map[string][2]diag.ID{
	"trailing-cr":      {IDSubuidTrailingCR, IDSubgidTrailingCR},
	"trailing-space":   {IDSubuidTrailingSpace, IDSubgidTrailingSpace},
	"fields":           {IDSubuidFields, IDSubgidFields},
	"empty-field":      {IDSubuidEmptyField, IDSubgidEmptyField},
	"bad-number":       {IDSubuidBadNumber, IDSubgidBadNumber},
	"out-of-range":     {IDSubuidOutOfRange, IDSubgidOutOfRange},
	"octal":            {IDSubuidOctal, IDSubgidOctal},
	"hex":              {IDSubuidHex, IDSubgidHex},
	"sign":             {IDSubuidSign, IDSubgidSign},
	"leading-space":    {IDSubuidLeadingSpace, IDSubgidLeadingSpace},
	"owner-space":      {IDSubuidOwnerSpace, IDSubgidOwnerSpace},
	"zero-count":       {IDSubuidZeroCount, IDSubgidZeroCount},
	"overflow":         {IDSubuidOverflow, IDSubgidOverflow},
	"nis":              {IDSubuidNIS, IDSubgidNIS},
	"too-long":         {IDSubuidTooLong, IDSubgidTooLong},
	"nul":              {IDSubuidNUL, IDSubgidNUL},
	"no-final-newline": {IDSubuidNoFinalNewline, IDSubgidNoFinalNewline},
}

// lineID is the ID of the finding about the line problem code in k's file.
// Every code the parser gives has one (TestLineCodesHaveIDs); an unknown
// code, which would be a bug, is reported as a problem with the fields.
func (k kind) lineID(code string) diag.ID {
	if ids, ok := lineIDs[code]; ok {
		return ids[k]
	}
	return lineIDs["fields"][k]
}
