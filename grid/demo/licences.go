package demo

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// licenceValidityYears is how long the demo's licences run: the three years of a work-safety
// licence (安全生产许可证, 危险化学品经营许可证, ...).
const licenceValidityYears = 3

// licenceLapseDays is how far past a licence's three years its issue date may fall: a
// licence issued that long before ReferenceDate has lapsed, so about
// licenceLapseDays / (3 × 365 + licenceLapseDays) of the licences (about one in ten) are
// expired on ReferenceDate and about 30 / 1,215 expire within 30 days of it.
const licenceLapseDays = 120

// demoLicence is one licence of an enterprise: its type, a number pattern and its authority.
type demoLicence struct {
	typ, authority string
	number         func(r *rand.Rand, year int, short string) string
}

var (
	licSafety = demoLicence{"安全生产许可证", "上海市应急管理局", func(r *rand.Rand, y int, _ string) string {
		return fmt.Sprintf("(沪)WH安许证字[%d]%04d", y, 1+r.IntN(9999))
	}}
	licBuild = demoLicence{"安全生产许可证", "上海市住房和城乡建设管理委员会", func(r *rand.Rand, y int, _ string) string {
		return fmt.Sprintf("(沪)JZ安许证字[%d]%06d", y, 1+r.IntN(999999))
	}}
	licTrade = demoLicence{"危险化学品经营许可证", "", func(r *rand.Rand, y int, short string) string {
		return fmt.Sprintf("沪%s危化经字[%d]%06d", short, y, 1+r.IntN(999999))
	}}
	licUse = demoLicence{"危险化学品安全使用许可证", "上海市应急管理局", func(r *rand.Rand, y int, _ string) string {
		return fmt.Sprintf("沪WH使许证字[%d]%04d", y, 1+r.IntN(9999))
	}}
	licRegister = demoLicence{"危险化学品登记证", "应急管理部化学品登记中心", func(r *rand.Rand, _ int, _ string) string {
		return fmt.Sprintf("31%07d", r.IntN(10_000_000))
	}}
	licPrecursor = demoLicence{"非药品类易制毒化学品经营备案证明", "", func(r *rand.Rand, y int, _ string) string {
		return fmt.Sprintf("(沪)3S31%d%05d", y, 1+r.IntN(99999))
	}}
	licOther = demoLicence{"其他", "", func(r *rand.Rand, y int, _ string) string {
		return fmt.Sprintf("沪特设使用登字[%d]%05d", y, 1+r.IntN(99999))
	}}
)

// enterpriseLicences draws the licences of an enterprise of industry ind (an index of
// industries): every hazardous-chemical enterprise holds one or more of its industry's licences, most
// construction firms a safety licence, and some others a licence of type 其他.
func enterpriseLicences(r *rand.Rand, ind uint8) []demoLicence {
	var out []demoLicence
	switch industries[ind] {
	case "危化品生产":
		out = append(out, licSafety, licRegister)
	case "危化品经营":
		out = append(out, licTrade)
		if r.Float64() < 0.3 {
			out = append(out, licPrecursor)
		}
	case "危化品储存":
		out = append(out, licTrade, licRegister)
	case "危化品使用":
		if r.Float64() < 0.6 {
			out = append(out, licUse)
		}
		if r.Float64() < 0.5 || len(out) == 0 {
			out = append(out, licRegister)
		}
	case "建筑施工":
		if r.Float64() < 0.7 {
			out = append(out, licBuild)
		}
	default:
		if r.Float64() < 0.1 {
			out = append(out, licOther)
		}
	}
	return out
}

// licences writes licences.csv (grid/dossier.LicenceColumns) for the enterprises'
// licences: each issued on a day within three years and licenceLapseDays before
// ReferenceDate, valid for three years to the day before, so a share has lapsed and some
// expire within 30 days. Loaded by `safegrid demo` (dossier.Service.LoadLicencesCSV).
func (g *gen) licences() (File, error) {
	r := g.rng(streamLicences)
	t := &g.ents
	cw, err := newCSVWriter(g.opts.OutDir, "licences.csv", "uscc", "type", "number", "authority", "issued_on", "valid_until")
	if err != nil {
		return File{}, err
	}
	defer cw.f.Close()
	span := licenceValidityYears*365 + licenceLapseDays
	for e := range len(t.lon) {
		lics := enterpriseLicences(r, t.ind[e])
		if len(lics) == 0 {
			continue
		}
		d := g.w.districts[t.district[e]]
		uscc := t.uscc(e, d.code)
		for _, l := range lics {
			issued := ReferenceDate.AddDate(0, 0, -r.IntN(span))
			until := issued.AddDate(licenceValidityYears, 0, -1)
			authority := l.authority
			if authority == "" {
				authority = d.name + "应急管理局"
			}
			if err := cw.row(uscc, l.typ, l.number(r, issued.Year(), districtShort(d.name)), authority,
				issued.Format(time.DateOnly), until.Format(time.DateOnly)); err != nil {
				return File{}, err
			}
		}
	}
	if err := cw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "licences", Path: cw.name, Format: "csv", Rows: cw.rows}, nil
}
