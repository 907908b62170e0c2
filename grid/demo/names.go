package demo

import (
	"math/rand/v2"
	"strings"
)

// Characters of trade names (字号): two of them make names like 华申, 宏达, 鑫泰.
var tradeChars = []rune("华申浦东兴达宏鑫信诚恒永泰丰瑞安盛金隆嘉宝联通海新天益博科德源和润昌明远凯中航光力欣铭晟汇卓峰宇佳晶荣邦创腾飞凌锦辰奥威顺祥福康群豪捷舜乐彩协美亚星岳川启越华轩宁沪江淞松虹闵徐")

// Words of business lines, by industry, as they appear in company names.
var industryWords = map[string][]string{
	"危化品生产": {"化工", "石油化工", "精细化工", "化学", "涂料", "新材料", "化学工业", "树脂", "助剂"},
	"危化品经营": {"化工贸易", "化工产品销售", "石油化工销售", "化学品", "能源", "燃料"},
	"危化品储存": {"仓储", "石化仓储", "化工物流", "储运", "危险品仓储"},
	"危化品使用": {"电子材料", "制药", "印染", "电镀", "表面处理", "生物医药", "实业"},
	"建筑施工":  {"建设工程", "建筑工程", "市政工程", "建筑安装工程", "装饰工程", "基础工程"},
	"工贸":    {"机械", "金属制品", "包装材料", "纺织", "食品", "塑料制品", "家具", "汽车零部件", "精密机械", "五金制品", "印刷", "电器"},
	"交通运输":  {"物流", "运输", "货运代理", "供应链管理", "集装箱运输", "客运"},
	"其他":    {"商贸", "物业管理", "餐饮管理", "酒店管理", "文化传媒", "超市", "实业", "科技"},
}

var companyForms = newChoice("有限公司", 86, "股份有限公司", 8, "有限责任公司", 4, "分公司", 2)

// enterpriseName makes a plausible company name such as 上海宏达化工有限公司.
func enterpriseName(r *rand.Rand, industry, districtShort string) string {
	var b strings.Builder
	b.WriteString("上海")
	if r.IntN(6) == 0 {
		b.WriteString(districtShort)
	}
	b.WriteRune(pickOne(r, tradeChars))
	b.WriteRune(pickOne(r, tradeChars))
	b.WriteString(pickOne(r, industryWords[industry]))
	form := companyForms.pick(r)
	if form == "分公司" {
		b.WriteString("有限公司")
		b.WriteString(districtShort)
	}
	b.WriteString(form)
	return b.String()
}

// Road names: a first character and a second make 龙吴路, 华泰路…
var roadFirst = []rune("龙华长虹金沪浦松申江淮嘉汉康建延宝共东西南北中新永安定兴丰泰文光明平昌德宁曹漕天川杨凤")
var roadSecond = []rune("吴泰宁安兴华阳海江山平和德丰庆明湾城林园桥塘泾浜港浦")
var roadKinds = newChoice("路", 80, "公路", 12, "大道", 4, "街", 4)

func roadName(r *rand.Rand) string {
	return string([]rune{pickOne(r, roadFirst), pickOne(r, roadSecond)}) + roadKinds.pick(r)
}

// address makes an address inside a street: 上海市浦东新区曹路镇华东路123号.
func address(r *rand.Rand, district, street string) string {
	var b strings.Builder
	b.WriteString("上海市")
	b.WriteString(district)
	b.WriteString(street)
	b.WriteString(roadName(r))
	b.WriteString(itoa(between(r, 1, 1999)))
	b.WriteString("号")
	return b.String()
}

var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢傅钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
var givenChars = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌波宇浩凯鹏辉俊晨欣怡婷雪琳佳颖慧晓峰海燕红梅兰云飞龙健亮宁嘉成志")

// personName makes a Chinese personal name of two or three characters.
func personName(r *rand.Rand) string {
	n := []rune{pickOne(r, surnames), pickOne(r, givenChars)}
	if r.IntN(3) != 0 {
		n = append(n, pickOne(r, givenChars))
	}
	return string(n)
}
